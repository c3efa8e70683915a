# The CodeArtifact module alone: stores, external connections, internal-store's upstream order,
# domain encryption, and who may read or publish.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  domain_name         = "security-tools-domain"
  reader_role_arns    = ["arn:aws:iam::123456789012:role/builder-codebuild"]
  publisher_role_arns = ["arn:aws:iam::123456789012:role/builder-updater-lambda"]
}

run "stores_have_their_external_connections" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = one(aws_codeartifact_repository.store["pip-store"].external_connections[*].external_connection_name) == "public:pypi"
    error_message = "pip-store must proxy the public:pypi external connection."
  }
  assert {
    condition     = one(aws_codeartifact_repository.store["npm-store"].external_connections[*].external_connection_name) == "public:npmjs"
    error_message = "npm-store must proxy the public:npmjs external connection."
  }
  assert {
    condition     = one(aws_codeartifact_repository.store["maven-store"].external_connections[*].external_connection_name) == "public:maven-central"
    error_message = "maven-store must proxy the public:maven-central external connection."
  }
  assert {
    condition     = length(aws_codeartifact_repository.store["generic-store"].external_connections) == 0
    error_message = "generic-store must have no external connection: it holds only verified, mirrored artifacts."
  }
  assert {
    condition     = length(aws_codeartifact_repository.internal.external_connections) == 0
    error_message = "internal-store reaches the public registries only through its upstreams."
  }
  assert {
    condition     = sort(keys(output.repository_endpoints)) == tolist(["generic-store", "internal-store", "maven-store", "npm-store", "pip-store"])
    error_message = "Expected exactly the five repositories."
  }
}

run "internal_store_upstreams_in_priority_order" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = [for u in aws_codeartifact_repository.internal.upstream : u.repository_name] == ["generic-store", "pip-store", "npm-store", "maven-store"]
    error_message = "internal-store's upstreams must be generic-store, pip-store, npm-store, maven-store, in that order (order = search priority)."
  }
  assert {
    condition     = output.internal_upstreams == ["generic-store", "pip-store", "npm-store", "maven-store"]
    error_message = "The internal_upstreams output must list the upstreams in search order."
  }
}

run "domain_encrypted_with_its_own_customer_key" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = length(aws_kms_key.domain) == 1 && aws_kms_key.domain[0].enable_key_rotation
    error_message = "Without kms_key_arn the module must create a rotating customer-managed key."
  }
  assert {
    condition     = aws_codeartifact_domain.this.encryption_key == aws_kms_key.domain[0].arn
    error_message = "The domain must be encrypted with the module's customer-managed key."
  }
}

run "domain_encrypted_with_a_passed_key" {
  module {
    source = "./modules/codeartifact"
  }

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    condition     = length(aws_kms_key.domain) == 0
    error_message = "A passed key must not create another one."
  }
  assert {
    condition     = aws_codeartifact_domain.this.encryption_key == var.kms_key_arn
    error_message = "The domain must be encrypted with the passed key."
  }
}

run "only_the_updater_publishes_and_only_generic_artifacts" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = sort(keys(aws_codeartifact_repository_permissions_policy.this)) == tolist(["generic-store", "internal-store"])
    error_message = "Only generic-store (the API) and internal-store (the endpoint builds read) have repository policies."
  }
  assert {
    condition = alltrue([
      for name, policy in aws_codeartifact_repository_permissions_policy.this :
      alltrue([
        for s in jsondecode(policy.policy_document).Statement :
        !contains(flatten([s.Action]), "codeartifact:PublishPackageVersion") || (
          name == "generic-store" && tolist(flatten([s.Principal.AWS])) == var.publisher_role_arns &&
          s.Resource == "arn:aws:codeartifact:eu-west-1:123456789012:package/security-tools-domain/generic-store/generic/builder/*"
        )
      ])
    ])
    error_message = "Only the updater role may publish, and only generic packages in namespace builder of generic-store."
  }
  assert {
    condition     = !strcontains(join(" ", values(output.policy_documents.resource)), "PutPackageMetadata")
    error_message = "No policy grants PutPackageMetadata: no code path changes package metadata."
  }
  assert {
    condition     = tolist(flatten([jsondecode(aws_codeartifact_domain_permissions_policy.this.policy_document).Statement[0].Principal.AWS])) == var.reader_role_arns
    error_message = "The domain policy must let exactly the readers get tokens (the updater never uses an endpoint)."
  }
  assert {
    condition     = output.store.repository_arns["pip-store"] == "arn:aws:codeartifact:eu-west-1:123456789012:repository/security-tools-domain/pip-store"
    error_message = "Repository ARNs must have the shape arn:aws:codeartifact:REGION:ACCOUNT:repository/DOMAIN/REPO."
  }
}

run "endpoints_have_the_codeartifact_shape" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = output.repository_endpoints["pip-store"]["pypi"] == "https://security-tools-domain-123456789012.d.codeartifact.eu-west-1.amazonaws.com/pypi/pip-store/"
    error_message = "pip-store's endpoint must be https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/pip-store/."
  }
  assert {
    condition     = output.repository_endpoints["generic-store"]["generic"] == "https://security-tools-domain-123456789012.d.codeartifact.eu-west-1.amazonaws.com/generic/generic-store/"
    error_message = "generic-store's endpoint has the wrong shape."
  }
  assert {
    condition     = sort(keys(output.repository_endpoints["internal-store"])) == tolist(["generic", "maven", "npm", "pypi"])
    error_message = "internal-store must have an endpoint per format."
  }
}

run "the_osv_archives_have_readers_only_when_named" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition     = !strcontains(aws_codeartifact_repository_permissions_policy.this["generic-store"].policy_document, "/generic/osv/")
    error_message = "Without osv_reader_role_arns nobody may read the OSV mirror."
  }
}

run "named_readers_list_and_read_the_osv_archives" {
  module {
    source = "./modules/codeartifact"
  }

  variables {
    osv_reader_role_arns = ["arn:aws:iam::123456789012:role/builder-codebuild"]
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(aws_codeartifact_repository_permissions_policy.this["generic-store"].policy_document).Statement :
      [flatten([s.Principal.AWS]), sort(s.Action)] if s.Resource == output.store.osv_package_arn
      ]) == jsonencode([[var.osv_reader_role_arns, [
        "codeartifact:GetPackageVersionAsset", "codeartifact:ListPackageVersionAssets", "codeartifact:ListPackageVersions",
    ]]])
    error_message = "generic-store's policy must let exactly the named readers list and read namespace osv."
  }
  assert {
    condition     = output.store.osv_package_arn == "arn:aws:codeartifact:eu-west-1:123456789012:package/security-tools-domain/generic-store/generic/osv/*"
    error_message = "The OSV mirror's packages are generic-store's namespace osv (builder/auditing/osv_packages.py)."
  }
}
