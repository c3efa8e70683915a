# The CodeArtifact domain, the four stores and internal-store, and who may read or publish.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # A repository can have at most one external connection, so each public registry gets its own
  # store; generic-store has none: it holds only artifacts the updater verified and published.
  stores = {
    "generic-store" = { description = "Release artifacts mirrored by the updater, verified against the lockfile.", external_connection = null }
    "pip-store"     = { description = "Python packages; proxies the public:pypi connection.", external_connection = "public:pypi" }
    "npm-store"     = { description = "npm packages; proxies the public:npmjs connection.", external_connection = "public:npmjs" }
    "maven-store"   = { description = "Maven artifacts; proxies the public:maven-central connection.", external_connection = "public:maven-central" }
  }

  # internal-store searches its upstreams in this order (list order is search priority; see
  # docs/aws.md). The store without an external connection comes first, so an artifact the
  # updater verified and published always wins; then by how often builds ask for each format.
  internal_upstreams = ["generic-store", "pip-store", "npm-store", "maven-store"]

  # The updater publishes release artifacts as generic packages in this namespace of generic-store,
  # and nowhere else (builder/stores/codeartifact.py: FORMAT, NAMESPACE). pip-store and npm-store
  # are filled by CodeArtifact itself through their external connections.
  generic_namespace = "builder"

  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.domain[0].arn : var.kms_key_arn

  # Built from the documented ARN formats (the permissions reference of the CodeArtifact user
  # guide), as the package ARN has to be, so every policy names exactly these strings.
  arn_prefix = "arn:${local.partition}:codeartifact:${local.region}:${local.account_id}"
  repository_arns = {
    for name in concat(keys(local.stores), ["internal-store"]) :
    name => "${local.arn_prefix}:repository/${var.domain_name}/${name}"
  }
  generic_package_arn = "${local.arn_prefix}:package/${var.domain_name}/generic-store/generic/${local.generic_namespace}/*"
  # `builder store osv` mirrors OSV's archives into namespace osv (builder/auditing/osv_packages.py),
  # from which an air-gapped `builder audit --offline` reads the newest version of each ecosystem.
  osv_package_arn = "${local.arn_prefix}:package/${var.domain_name}/generic-store/generic/osv/*"

  # One local per policy document; `policies` lists them all for the policy_documents output.
  policies = {
    key      = { domain = local.key_policy_domain }
    resource = merge({ domain = local.resource_policy_domain }, local.resource_policy_repositories)
  }

  key_policy_domain = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      # "*" in a key policy is this key. CodeArtifact uses the key through grants it creates
      # with the permissions of whoever creates the domain, so IAM delegation is all it needs.
      Sid       = "AccountAdministersKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  # Only the readers (CodeBuild) get tokens: the updater calls the API with its role and never
  # uses a repository endpoint. tests/test_iam_policies.py checks every grant here against the
  # calls the code makes.
  resource_policy_domain = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ReadersGetTokens"
      Effect    = "Allow"
      Principal = { AWS = var.reader_role_arns }
      Action    = "codeartifact:GetAuthorizationToken"
      Resource  = aws_codeartifact_domain.this.arn
    }]
  })

  # Repositories nobody reaches through the API (pip-store, npm-store, maven-store: builds read
  # them through internal-store's endpoint) have no policy: a policy cannot be empty, and without
  # one only identity policies of this account decide, and none grants anything there.
  resource_policy_repositories = {
    "repository-generic-store" = jsonencode({
      Version = "2012-10-17"
      Statement = concat([
        {
          Sid       = "ReadersDownloadArtifacts"
          Effect    = "Allow"
          Principal = { AWS = var.reader_role_arns }
          Action    = ["codeartifact:GetPackageVersionAsset", "codeartifact:ListPackageVersionAssets"]
          Resource  = local.generic_package_arn
        },
        {
          # Unfinished per asset, then Published once every platform is in.
          Sid       = "PublisherMirrorsArtifacts"
          Effect    = "Allow"
          Principal = { AWS = var.publisher_role_arns }
          Action = [
            "codeartifact:ListPackageVersionAssets",
            "codeartifact:PublishPackageVersion",
            "codeartifact:UpdatePackageVersionsStatus",
          ]
          Resource = local.generic_package_arn
        },
        ], length(var.osv_reader_role_arns) == 0 ? [] : [{
          # The newest mirror version is found by listing, then its all.zip checked and read.
          Sid       = "AuditorsReadOSVArchives"
          Effect    = "Allow"
          Principal = { AWS = var.osv_reader_role_arns }
          Action = [
            "codeartifact:GetPackageVersionAsset",
            "codeartifact:ListPackageVersionAssets",
            "codeartifact:ListPackageVersions",
          ]
          Resource = local.osv_package_arn
      }])
    })
    "repository-internal-store" = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Sid       = "ReadersReadThroughTheEndpoint"
        Effect    = "Allow"
        Principal = { AWS = var.reader_role_arns }
        Action    = ["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"]
        Resource  = local.repository_arns["internal-store"]
      }]
    })
  }
}

resource "aws_kms_key" "domain" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "CodeArtifact domain ${var.domain_name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.key_policy_domain
}

resource "aws_kms_alias" "domain" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/codeartifact-${var.domain_name}"
  target_key_id = aws_kms_key.domain[0].key_id
}

resource "aws_codeartifact_domain" "this" {
  domain         = var.domain_name
  encryption_key = local.kms_key_arn
}

resource "aws_codeartifact_repository" "store" {
  for_each = local.stores

  domain       = aws_codeartifact_domain.this.domain
  domain_owner = aws_codeartifact_domain.this.owner
  repository   = each.key
  description  = each.value.description

  dynamic "external_connections" {
    for_each = each.value.external_connection == null ? [] : [each.value.external_connection]
    content {
      external_connection_name = external_connections.value
    }
  }
}

resource "aws_codeartifact_repository" "internal" {
  domain       = aws_codeartifact_domain.this.domain
  domain_owner = aws_codeartifact_domain.this.owner
  repository   = "internal-store"
  description  = "What builds read from: ${join(", then ", local.internal_upstreams)}."

  dynamic "upstream" {
    for_each = local.internal_upstreams
    content {
      repository_name = aws_codeartifact_repository.store[upstream.value].repository
    }
  }
}

resource "aws_codeartifact_domain_permissions_policy" "this" {
  domain          = aws_codeartifact_domain.this.domain
  domain_owner    = aws_codeartifact_domain.this.owner
  policy_document = local.resource_policy_domain
}

resource "aws_codeartifact_repository_permissions_policy" "this" {
  for_each = toset(["generic-store", "internal-store"])

  domain          = aws_codeartifact_domain.this.domain
  domain_owner    = aws_codeartifact_domain.this.owner
  repository      = each.key
  policy_document = local.resource_policy_repositories["repository-${each.key}"]

  depends_on = [aws_codeartifact_repository.store, aws_codeartifact_repository.internal]
}
