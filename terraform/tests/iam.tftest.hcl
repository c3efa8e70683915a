# Every policy document in the configuration (the root's `iam_policy_documents` output collects
# them; tests/test_terraform.py fails if a resource takes a policy from anywhere else), checked
# statement by statement: no wildcard action, and no "*" resource where a narrower one exists.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  aws_region        = "eu-west-1"
  lambda_zip_path   = "tests/fixtures/updater.zip"
  github_repository = "example-org/ci-images"

  # Actions that have no resource type in the Service Authorization Reference: only these may
  # name Resource "*" in an identity policy (each with a narrowing condition where one exists).
  actions_without_resource_types = [
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "sts:GetServiceBearerToken",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
  ]

  # module/kind/name of every policy document the configuration has.
  expected_policy_documents = [
    "codeartifact/key/domain",
    "codeartifact/resource/domain",
    "codeartifact/resource/repository-generic-store",
    "codeartifact/resource/repository-internal-store",
    "codebuild/identity/codebuild",
    "codebuild/resource/artifacts",
    "codebuild/trust/codebuild",
    "root/key/main",
    "root/key/provenance",
    "root/resource/alarm_topic",
    "updater/identity/lambda",
    "updater/identity/scheduler",
    "updater/trust/lambda",
    "updater/trust/scheduler",
  ]
}

run "every_policy_document_is_collected" {
  assert {
    condition = sort(flatten([
      for module_name, kinds in output.iam_policy_documents :
      [for kind, docs in kinds : [for name, doc in docs : "${module_name}/${kind}/${name}"]]
    ])) == tolist(var.expected_policy_documents)
    error_message = "The set of policy documents changed: add the new one to this list (and make sure the checks below cover its kind)."
  }
}

run "identity_policies_have_no_wildcard_actions" {
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.identity, {})) : jsondecode(doc).Statement]]) :
      alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])
    ])
    error_message = "An IAM identity policy statement uses a wildcard action (e.g. \"*\" or \"service:*\"): name the actions."
  }
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.identity, {})) : jsondecode(doc).Statement]]) :
      !can(s.NotAction) && !can(s.NotResource) && s.Effect == "Allow"
    ])
    error_message = "Identity policies must be plain Allow statements (no NotAction/NotResource)."
  }
}

run "identity_policies_name_their_resources" {
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.identity, {})) : jsondecode(doc).Statement]]) :
      !contains(flatten([s.Resource]), "*") || alltrue([for a in flatten([s.Action]) : contains(var.actions_without_resource_types, a)])
    ])
    error_message = "An IAM identity policy statement uses Resource \"*\" for an action that supports resource-level permissions: name the resources."
  }
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.identity, {})) : jsondecode(doc).Statement]]) :
      alltrue([for a in flatten([s.Action]) : !contains(["cloudwatch:PutMetricData", "sts:GetServiceBearerToken"], a)]) || can(s.Condition.StringEquals)
    ])
    error_message = "cloudwatch:PutMetricData and sts:GetServiceBearerToken must carry their narrowing condition."
  }
}

run "trust_policies_name_one_service" {
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.trust, {})) : jsondecode(doc).Statement]]) :
      s.Action == "sts:AssumeRole" && length(s.Principal) == 1 && endswith(try(s.Principal.Service, ""), ".amazonaws.com")
    ])
    error_message = "A role's trust policy must let exactly one AWS service assume it."
  }
}

run "resource_policies_name_principals_actions_and_resources" {
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.resource, {})) : jsondecode(doc).Statement]]) :
      s.Effect == "Deny" || (s.Principal != "*" && !contains(flatten([try(s.Principal.AWS, [])]), "*"))
    ])
    error_message = "A resource policy grants to the \"*\" principal (only a Deny, such as TLS-only, may name everyone)."
  }
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.resource, {})) : jsondecode(doc).Statement]]) :
      s.Effect == "Deny" || (alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")]) && !contains(flatten([s.Resource]), "*"))
    ])
    error_message = "A resource policy statement uses a wildcard action or Resource \"*\": name them."
  }
}

run "key_policies_delegate_only_to_the_account" {
  assert {
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.key, {})) : jsondecode(doc).Statement]]) :
      s.Principal != "*" && !contains(flatten([try(s.Principal.AWS, [])]), "*")
    ])
    error_message = "A key policy grants to the \"*\" principal."
  }
  assert {
    # In a key policy Resource "*" is the key itself. "kms:*" is allowed only for the account
    # root (the statement that delegates to IAM policies); services get named actions.
    condition = alltrue([
      for s in flatten([for kinds in values(output.iam_policy_documents) : [for doc in values(try(kinds.key, {})) : jsondecode(doc).Statement]]) :
      alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")]) || try(s.Principal.AWS, "") == "arn:aws:iam::123456789012:root"
    ])
    error_message = "A key policy gives a wildcard action to someone other than the account root."
  }
}
