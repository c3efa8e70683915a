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

run "only_the_updater_publishes" {
  module {
    source = "./modules/codeartifact"
  }

  assert {
    condition = alltrue([
      for name in ["generic-store", "pip-store", "npm-store"] :
      tolist(one([for s in jsondecode(aws_codeartifact_repository_permissions_policy.this[name].policy_document).Statement : s.Principal.AWS if s.Sid == "PublishByUpdaterOnly"])) == var.publisher_role_arns
    ])
    error_message = "generic-store, pip-store and npm-store must let the updater role, and only it, publish."
  }
  assert {
    condition = alltrue([
      for name in ["maven-store", "internal-store"] :
      alltrue([for s in jsondecode(aws_codeartifact_repository_permissions_policy.this[name].policy_document).Statement : !contains(flatten([s.Action]), "codeartifact:PublishPackageVersion")])
    ])
    error_message = "Nobody may publish to maven-store or internal-store."
  }
  assert {
    condition = alltrue([
      for name, policy in aws_codeartifact_repository_permissions_policy.this :
      alltrue([for s in jsondecode(policy.policy_document).Statement : s.Sid == "PublishByUpdaterOnly" || contains(flatten([s.Principal.AWS]), var.reader_role_arns[0])])
    ])
    error_message = "Every repository policy must let the CodeBuild role read."
  }
  assert {
    condition     = sort(flatten([jsondecode(aws_codeartifact_domain_permissions_policy.this.policy_document).Statement[0].Principal.AWS])) == sort(concat(var.reader_role_arns, var.publisher_role_arns))
    error_message = "The domain policy must let exactly the readers and the publisher get tokens."
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
