# The CodeBuild module alone: one ECR repository and project per image, the batch project,
# the log group, and the CodeBuild role.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  provenance_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555"
  name_prefix        = "builder"
  kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  images             = ["base", "container-scanners", "iac-scanners", "code-scanners", "security-tools"]
  source_type        = "GITHUB"
  source_location    = "https://github.com/example-org/ci-images.git"
  codeartifact = {
    domain_name         = "security-tools-domain"
    domain_owner        = "123456789012"
    domain_arn          = "arn:aws:codeartifact:eu-west-1:123456789012:domain/security-tools-domain"
    region              = "eu-west-1"
    generic_repository  = "generic-store"
    internal_repository = "internal-store"
    generic_package_arn = "arn:aws:codeartifact:eu-west-1:123456789012:package/security-tools-domain/generic-store/generic/builder/*"
    osv_package_arn     = "arn:aws:codeartifact:eu-west-1:123456789012:package/security-tools-domain/generic-store/generic/osv/*"
    repository_arns = {
      "generic-store"  = "arn:aws:codeartifact:eu-west-1:123456789012:repository/security-tools-domain/generic-store"
      "internal-store" = "arn:aws:codeartifact:eu-west-1:123456789012:repository/security-tools-domain/internal-store"
    }
  }
}

run "one_encrypted_immutable_scanned_repository_per_image" {
  module {
    source = "./modules/codebuild"
  }

  assert {
    condition     = sort(keys(aws_ecr_repository.image)) == sort(var.images)
    error_message = "Each image must get one ECR repository."
  }
  assert {
    condition = alltrue([for r in aws_ecr_repository.image : (
      r.image_tag_mutability == "IMMUTABLE" &&
      r.image_scanning_configuration[0].scan_on_push &&
      r.encryption_configuration[0].encryption_type == "KMS" &&
      r.encryption_configuration[0].kms_key == var.kms_key_arn
    )])
    error_message = "Every ECR repository must have immutable tags, scan on push and KMS encryption."
  }
  assert {
    # untagged, an image and a provenance rule per platform, the index backstop
    condition     = alltrue([for image in var.images : length(jsondecode(aws_ecr_lifecycle_policy.image[image].policy).rules) == 2 + 2 * length(var.platforms)])
    error_message = "Every ECR repository must have the lifecycle policy."
  }
  assert {
    condition = alltrue([for image in var.images : (
      [for r in jsondecode(aws_ecr_lifecycle_policy.image[image].policy).rules : try(r.selection.tagPatternList[0], r.selection.tagStatus)]
      == ["untagged", "*-amd64", "*-amd64.provenance", "*-arm64", "*-arm64.provenance", "any"]
    )])
    error_message = "Each platform's images and provenances must be counted by their own rules, before the any rule."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.image["base"].policy).rules[1].selection.countNumber == jsondecode(aws_ecr_lifecycle_policy.image["base"].policy).rules[2].selection.countNumber
    error_message = "Each image kept must keep its provenance."
  }
}

run "one_privileged_project_per_image_and_a_batch" {
  module {
    source = "./modules/codebuild"
  }

  assert {
    condition     = alltrue([for image in var.images : aws_codebuild_project.image[image].source[0].buildspec == "buildspecs/${image}/buildspec.yml"])
    error_message = "Each image's project must use buildspecs/<image>/buildspec.yml."
  }
  assert {
    condition     = alltrue([for p in aws_codebuild_project.image : p.environment[0].privileged_mode && p.encryption_key == var.kms_key_arn && p.source[0].location == var.source_location])
    error_message = "Projects must run privileged (BuildKit), be encrypted with the key and build from source_location."
  }
  assert {
    condition     = aws_codebuild_project.batch.source[0].buildspec == "buildspecs/batch.yml" && aws_codebuild_project.batch.build_batch_config[0].service_role == aws_iam_role.codebuild.arn
    error_message = "The batch project must use buildspecs/batch.yml with a build_batch_config."
  }
  assert {
    condition     = aws_codebuild_project.batch.build_batch_config[0].restrictions[0].maximum_builds_allowed == 15
    error_message = "The batch must be allowed one build per image and platform plus one index per image (5 x 3)."
  }
  assert {
    condition     = aws_cloudwatch_log_group.codebuild.kms_key_id == var.kms_key_arn && aws_cloudwatch_log_group.codebuild.retention_in_days >= 365
    error_message = "The build log group must be KMS-encrypted and kept at least a year."
  }
  assert {
    condition     = contains([for v in aws_codebuild_project.image["base"].environment[0].environment_variable : "${v.name}=${v.value}"], "BUILDER_PIP_REPOSITORY=internal-store")
    error_message = "Builds must read Python packages through internal-store."
  }
  assert {
    condition     = contains([for v in aws_codebuild_project.image["base"].environment[0].environment_variable : "${v.name}=${v.value}"], "IMAGE_REPOSITORY=${aws_ecr_repository.image["base"].repository_url}")
    error_message = "Each image's project must push to its own ECR repository (IMAGE_REPOSITORY)."
  }
}

run "codecommit_source_may_be_cloned" {
  module {
    source = "./modules/codebuild"
  }

  variables {
    source_type     = "CODECOMMIT"
    source_location = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/ci-images"
  }

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.codebuild.policy).Statement : s.Resource if s.Action == "codecommit:GitPull"]) == "arn:aws:codecommit:eu-west-1:123456789012:ci-images"
    error_message = "A CodeCommit source must be pullable, and only that repository."
  }
}

run "the_osv_archives_are_readable_only_when_the_builds_audit_offline" {
  module {
    source = "./modules/codebuild"
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.codebuild.policy, "/generic/osv/")
    error_message = "Builds that audit online must not be able to read the OSV mirror."
  }
}

run "an_offline_audit_reads_the_osv_archives_and_nothing_else_of_them" {
  module {
    source = "./modules/codebuild"
  }

  variables {
    audit_offline = true
  }

  assert {
    condition = jsonencode([for s in jsondecode(aws_iam_role_policy.codebuild.policy).Statement : sort(s.Action) if s.Resource == var.codeartifact.osv_package_arn]) == jsonencode([[
      "codeartifact:GetPackageVersionAsset", "codeartifact:ListPackageVersionAssets", "codeartifact:ListPackageVersions",
    ]])
    error_message = "An offline audit lists the OSV mirror's versions and reads their assets, in namespace osv only."
  }
}
