# One ECR repository and one CodeBuild project per image, plus the batch project that builds
# the whole image graph (buildspecs/batch.yml, rendered by `builder render`).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id     = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  region         = data.aws_region.current.name
  ca             = var.codeartifact
  images         = toset(var.images)
  log_group_name = "/aws/codebuild/${var.name_prefix}"
  batch_project  = "${var.name_prefix}-batch"

  codecommit_repository_arn = var.source_type == "CODECOMMIT" ? "arn:${local.partition}:codecommit:${local.region}:${local.account_id}:${regex("/v1/repos/([^/]+)$", var.source_location)[0]}" : null

  # Project variables win over the rendered buildspec's own `env.variables` (CodeBuild's order:
  # start-build, then project, then buildspec), so these point every build at this deployment.
  # pip and npm read through internal-store (see docs/aws.md).
  common_environment = {
    BUILDER_CODEARTIFACT_DOMAIN       = local.ca.domain_name
    BUILDER_CODEARTIFACT_DOMAIN_OWNER = local.ca.domain_owner
    BUILDER_CODEARTIFACT_REGION       = local.ca.region
    BUILDER_GENERIC_REPOSITORY        = local.ca.generic_repository
    BUILDER_PIP_REPOSITORY            = local.ca.internal_repository
    BUILDER_NPM_REPOSITORY            = local.ca.internal_repository
    # The account whose Security Hub takes `builder audit --security-hub`'s findings after a push.
    BUILDER_AWS_ACCOUNT_ID     = local.account_id
    BUILDER_PROVENANCE_KMS_KEY = var.provenance_key_arn
  }

  # One local per policy document; `policies` lists them all for the policy_documents output.
  policies = {
    trust    = { codebuild = local.trust_policy_codebuild }
    identity = { codebuild = local.identity_policy_codebuild }
    resource = { artifacts = local.bucket_policy_artifacts }
  }

  trust_policy_codebuild = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "codebuild.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  identity_policy_codebuild = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "WriteBuildLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${aws_cloudwatch_log_group.codebuild.arn}:*"
        },
        {
          # CodeBuild uploads the buildspec's `artifacts:` as the role, checking the bucket first.
          Sid      = "UploadBuildArtifacts"
          Effect   = "Allow"
          Action   = ["s3:PutObject"]
          Resource = "${aws_s3_bucket.artifacts.arn}/*"
        },
        {
          Sid      = "LocateArtifactsBucket"
          Effect   = "Allow"
          Action   = ["s3:GetBucketAcl", "s3:GetBucketLocation"]
          Resource = aws_s3_bucket.artifacts.arn
        },
        {
          Sid    = "WriteTestReports"
          Effect = "Allow"
          Action = [
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:CreateReportGroup",
            "codebuild:UpdateReport",
          ]
          Resource = "arn:${local.partition}:codebuild:${local.region}:${local.account_id}:report-group/${var.name_prefix}-*"
        },
        {
          # GetAuthorizationToken has no resource type; it only yields a login for the
          # repositories the next statement allows.
          Sid      = "EcrLogin"
          Effect   = "Allow"
          Action   = "ecr:GetAuthorizationToken"
          Resource = "*"
        },
        {
          Sid    = "PushAndPullOwnImages"
          Effect = "Allow"
          Action = [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
          ]
          Resource = [for image in var.images : aws_ecr_repository.image[image].arn]
        },
        {
          Sid      = "CodeArtifactToken"
          Effect   = "Allow"
          Action   = "codeartifact:GetAuthorizationToken"
          Resource = local.ca.domain_arn
        },
        {
          # GetServiceBearerToken has no resource type: the service-name condition narrows it.
          Sid       = "CodeArtifactBearerToken"
          Effect    = "Allow"
          Action    = "sts:GetServiceBearerToken"
          Resource  = "*"
          Condition = { StringEquals = { "sts:AWSServiceName" = "codeartifact.amazonaws.com" } }
        },
        {
          # pip and npm inside the build read internal-store's endpoint with the token.
          Sid      = "ReadThroughInternalStore"
          Effect   = "Allow"
          Action   = ["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"]
          Resource = local.ca.repository_arns[local.ca.internal_repository]
        },
        {
          # `builder provenance` signs each built image's provenance (attesting/kms.py); nothing else.
          Sid      = "SignProvenance"
          Effect   = "Allow"
          Action   = "kms:Sign"
          Resource = var.provenance_key_arn
        },
        {
          # `builder build` checks and downloads the mirrored release artifacts (stores/codeartifact.py).
          Sid      = "DownloadArtifacts"
          Effect   = "Allow"
          Action   = ["codeartifact:GetPackageVersionAsset", "codeartifact:ListPackageVersionAssets"]
          Resource = local.ca.generic_package_arn
        },
        {
          # CodeBuild encrypts what it stores for a build (encryption_key) with the service role.
          Sid      = "UseBuildKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
        },
        {
          # `builder audit --security-hub` imports as the account's own product, and reads back
          # its earlier findings to resolve those the audit no longer has.
          Sid      = "ImportAuditFindings"
          Effect   = "Allow"
          Action   = "securityhub:BatchImportFindings"
          Resource = "arn:${local.partition}:securityhub:${local.region}:${local.account_id}:product/${local.account_id}/default"
        },
        {
          Sid      = "ReadAuditFindings"
          Effect   = "Allow"
          Action   = "securityhub:GetFindings"
          Resource = "arn:${local.partition}:securityhub:${local.region}:${local.account_id}:hub/default"
        },
        {
          # The batch project starts, retries and stops its own child builds.
          Sid      = "RunBatchChildren"
          Effect   = "Allow"
          Action   = ["codebuild:RetryBuild", "codebuild:StartBuild", "codebuild:StopBuild"]
          Resource = "arn:${local.partition}:codebuild:${local.region}:${local.account_id}:project/${local.batch_project}"
        },
      ],
      var.audit_offline ? [{
        # `builder audit --offline` finds the newest OSV mirror of each ecosystem and reads its
        # all.zip, sha256 checked (auditing/osv_mirror.py); only in namespace osv.
        Sid    = "ReadOSVArchives"
        Effect = "Allow"
        Action = [
          "codeartifact:GetPackageVersionAsset",
          "codeartifact:ListPackageVersionAssets",
          "codeartifact:ListPackageVersions",
        ]
        Resource = local.ca.osv_package_arn
      }] : [],
      local.codecommit_repository_arn == null ? [] : [{
        Sid      = "CloneSource"
        Effect   = "Allow"
        Action   = "codecommit:GitPull"
        Resource = local.codecommit_repository_arn
      }],
    )
  })
}

resource "aws_ecr_repository" "image" {
  for_each = local.images

  name                 = "${var.name_prefix}/${each.key}"
  image_tag_mutability = "IMMUTABLE" # a tag names exactly one set of tool versions

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

# How ECR reads these rules (its lifecycle policy documentation): rules run from the lowest
# rulePriority up and a tagStatus "any" rule must come last; an image is expired by one rule at
# most, and an image whose tags match a higher-priority rule's selection can never be expired by a
# lower one, although lower rules still see (count) it. A tagPatternList pattern matches the whole
# tag, `*` standing for any run of characters (at most four per pattern), and several patterns in
# one list must all match, so "either of" takes one rule per pattern.
#
# Hence one pair of rules per platform, their patterns disjoint so no rule counts another's
# images: `<tag>-<arch>` keeps the newest N images of that platform, `<tag>-<arch>.provenance`
# the newest N provenances, pushed right after their image, so the N provenances kept are those of
# the N images kept (an image built without a provenance shifts this by one). The multi-platform
# index `<tag>` matches no pattern (tags are hex, no wildcard selects "no dash"), so only the last
# `any` rule can expire it; that rule counts every image, untagged ones included, so with the
# count of N builds (an index, and an image and a provenance per platform) it keeps the indexes of
# the newest N builds, fewer when untagged manifests (attestations, stray pushes) are counted too:
# an index may go before its images, not after them.
locals {
  ecr_archs = [for p in var.platforms : element(split("/", p), 1)]
  ecr_pairs = flatten([for i, arch in local.ecr_archs : [
    {
      rulePriority = 2 + 2 * i
      description  = "Keep the newest ${var.ecr_keep_images} ${arch} images"
      selection    = { tagStatus = "tagged", tagPatternList = ["*-${arch}"], countType = "imageCountMoreThan", countNumber = var.ecr_keep_images }
      action       = { type = "expire" }
    },
    {
      rulePriority = 3 + 2 * i
      description  = "Keep the provenance of each ${arch} image kept"
      selection    = { tagStatus = "tagged", tagPatternList = ["*-${arch}.provenance"], countType = "imageCountMoreThan", countNumber = var.ecr_keep_images }
      action       = { type = "expire" }
    },
  ]])
}

resource "aws_ecr_lifecycle_policy" "image" {
  for_each = local.images

  repository = aws_ecr_repository.image[each.key].name
  policy = jsonencode({
    rules = concat(
      [{
        rulePriority = 1
        description  = "Drop untagged layers/manifests after 7 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      }],
      local.ecr_pairs,
      [{
        rulePriority = 2 + 2 * length(local.ecr_archs)
        description  = "Expire multi-platform indexes of builds older than the images kept"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.ecr_keep_images * (1 + 2 * length(local.ecr_archs)) }
        action       = { type = "expire" }
      }],
    )
  })
}

resource "aws_cloudwatch_log_group" "codebuild" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "codebuild" {
  name               = "${var.name_prefix}-codebuild"
  description        = "Builds the images: reads CodeArtifact, pushes to its ECR repositories, writes logs and reports."
  assume_role_policy = local.trust_policy_codebuild
}

resource "aws_iam_role_policy" "codebuild" {
  name   = "codebuild"
  role   = aws_iam_role.codebuild.id
  policy = local.identity_policy_codebuild
}

resource "aws_codebuild_project" "image" {
  for_each = local.images

  #checkov:skip=CKV_AWS_316:BuildKit builds need the Docker daemon, which CodeBuild only runs in privileged mode.
  name           = "${var.name_prefix}-${each.key}"
  description    = "Builds and pushes the ${each.key} image (buildspecs/${each.key}/buildspec.yml)."
  service_role   = aws_iam_role.codebuild.arn
  encryption_key = var.kms_key_arn
  source_version = var.source_version
  build_timeout  = var.build_timeout_minutes

  artifacts {
    # The buildspec's `artifacts:` (its full SBOM and signed provenance), under <build id>/.
    type                = "S3"
    location            = aws_s3_bucket.artifacts.id
    name                = each.key
    namespace_type      = "BUILD_ID"
    packaging           = "NONE"
    encryption_disabled = false
  }

  environment {
    type                        = "LINUX_CONTAINER"
    compute_type                = var.compute_type
    image                       = var.build_image
    image_pull_credentials_type = "CODEBUILD"
    privileged_mode             = true

    dynamic "environment_variable" {
      for_each = merge(local.common_environment, {
        IMAGE_REPOSITORY = aws_ecr_repository.image[each.key].repository_url
      })
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  source {
    type            = var.source_type
    location        = var.source_location
    buildspec       = "buildspecs/${each.key}/buildspec.yml"
    git_clone_depth = 1
  }

  logs_config {
    cloudwatch_logs {
      group_name  = aws_cloudwatch_log_group.codebuild.name
      stream_name = each.key
    }
  }

  depends_on = [aws_iam_role_policy.codebuild]
}

resource "aws_codebuild_project" "batch" {
  #checkov:skip=CKV_AWS_316:BuildKit builds need the Docker daemon, which CodeBuild only runs in privileged mode.
  name           = local.batch_project
  description    = "Builds every image in dependency order (buildspecs/batch.yml, batch: build-graph)."
  service_role   = aws_iam_role.codebuild.arn
  encryption_key = var.kms_key_arn
  source_version = var.source_version
  build_timeout  = var.build_timeout_minutes

  artifacts {
    # The buildspec's `artifacts:` (its full SBOM and signed provenance), under <build id>/.
    type                = "S3"
    location            = aws_s3_bucket.artifacts.id
    name                = "batch"
    namespace_type      = "BUILD_ID"
    packaging           = "NONE"
    encryption_disabled = false
  }

  environment {
    type                        = "LINUX_CONTAINER"
    compute_type                = var.compute_type
    image                       = var.build_image
    image_pull_credentials_type = "CODEBUILD"
    privileged_mode             = true

    dynamic "environment_variable" {
      for_each = local.common_environment
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  source {
    type            = var.source_type
    location        = var.source_location
    buildspec       = "buildspecs/batch.yml"
    git_clone_depth = 1
  }

  build_batch_config {
    service_role      = aws_iam_role.codebuild.arn
    combine_artifacts = false
    timeout_in_mins   = var.batch_timeout_minutes

    restrictions {
      # one build per image and platform, and one per image for its multi-platform index
      maximum_builds_allowed = length(var.images) * (length(var.platforms) + 1)
      compute_types_allowed  = [var.compute_type]
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name  = aws_cloudwatch_log_group.codebuild.name
      stream_name = "batch"
    }
  }

  depends_on = [aws_iam_role_policy.codebuild]
}
