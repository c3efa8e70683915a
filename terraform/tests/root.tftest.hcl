# The root module: the modules wired together, the outputs, the shared key and alarm topic, and
# the validation of the variables a deployer sets.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  aws_region        = "eu-west-1"
  lambda_zip_path   = "tests/fixtures/updater.zip"
  github_repository = "example-org/ci-images"
}

run "outputs_describe_the_deployment" {
  assert {
    condition     = output.codeartifact_domain_name == "security-tools-domain" && output.codeartifact_domain_owner == "123456789012"
    error_message = "The domain defaults to security-tools-domain, owned by the deploying account."
  }
  assert {
    condition     = output.repository_endpoints["npm-store"]["npm"] == "https://security-tools-domain-123456789012.d.codeartifact.eu-west-1.amazonaws.com/npm/npm-store/"
    error_message = "Endpoints must have the shape https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/FORMAT/REPO/."
  }
  assert {
    condition     = output.pip_index_url == "https://security-tools-domain-123456789012.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal-store/simple/"
    error_message = "pip in builds must read through internal-store."
  }
  assert {
    condition     = output.internal_store_upstreams == ["generic-store", "pip-store", "npm-store", "maven-store"]
    error_message = "internal-store's upstream order changed."
  }
  assert {
    condition     = output.updater_function_name == "builder-updater" && output.updater_schedule == "cron(0 6 * * ? *) (UTC)"
    error_message = "The updater's name and daily schedule must be in the outputs."
  }
  assert {
    condition     = sort(keys(output.ecr_repository_urls)) == sort(["base", "code-scanners", "container-scanners", "iac-scanners", "python-scanners", "security-tools"]) && output.codebuild_batch_project_name == "builder-batch"
    error_message = "Each default image must get a repository and a project, plus the batch project."
  }
  assert {
    condition     = output.registry == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/builder"
    error_message = "The registry output must be builder.yaml's image name prefix for the ECR repositories."
  }
}

run "shared_key_and_alarm_topic_are_encrypted" {
  assert {
    condition     = aws_kms_key.main.enable_key_rotation && aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.main.arn
    error_message = "The alarm topic must be encrypted with the rotating customer-managed key."
  }
  assert {
    condition     = one([for s in jsondecode(aws_kms_key.main.policy).Statement : s.Principal.Service if s.Sid == "CloudWatchLogsEncryptsOurLogGroups"]) == "logs.eu-west-1.amazonaws.com"
    error_message = "The key policy must let the region's CloudWatch Logs service use the key."
  }
  assert {
    condition     = can(one([for s in jsondecode(aws_kms_key.main.policy).Statement : s.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"] if s.Sid == "CloudWatchLogsEncryptsOurLogGroups"]))
    error_message = "CloudWatch Logs may use the key only for this deployment's log groups."
  }
  assert {
    condition     = startswith(output.codeartifact_kms_key_arn, "arn:aws:kms:")
    error_message = "The domain must be encrypted with a customer-managed key."
  }
}

run "provenance_is_signed_with_an_asymmetric_key_codebuild_may_only_sign_with" {
  assert {
    condition     = aws_kms_key.provenance.customer_master_key_spec == "ECC_NIST_P256" && aws_kms_key.provenance.key_usage == "SIGN_VERIFY"
    error_message = "The provenance key must be an asymmetric signing key (ECC_NIST_P256, SIGN_VERIFY)."
  }
  assert {
    condition     = [for s in jsondecode(output.iam_policy_documents.codebuild.identity.codebuild).Statement : s.Resource if contains(flatten([s.Action]), "kms:Sign")] == [aws_kms_key.provenance.arn]
    error_message = "CodeBuild may use kms:Sign in one statement, on the provenance key alone."
  }
  assert {
    condition     = output.provenance_key_alias == "alias/${var.name_prefix}-provenance"
    error_message = "The provenance key's alias is what builder.yaml's provenance.kms_key names."
  }
}

# EventBridge Scheduler refuses these at apply time; the variable must refuse them at plan time.
run "rejects_a_cron_expression_with_five_fields" {
  command = plan

  variables {
    schedule_expression = "cron(0 6 * * *)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_a_cron_expression_with_both_day_fields_set" {
  command = plan

  variables {
    schedule_expression = "cron(0 6 * * * *)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_a_cron_expression_with_neither_day_field_set" {
  command = plan

  variables {
    schedule_expression = "cron(0 6 ? * ? *)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_a_plural_unit_for_one" {
  command = plan

  variables {
    schedule_expression = "rate(1 days)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_a_singular_unit_for_more_than_one" {
  command = plan

  variables {
    schedule_expression = "rate(2 day)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_a_rate_of_zero" {
  command = plan

  variables {
    schedule_expression = "rate(0 minutes)"
  }

  expect_failures = [var.schedule_expression]
}

run "accepts_a_rate_of_one_day" {
  command = plan

  variables {
    schedule_expression = "rate(1 day)"
  }

  assert {
    condition     = output.updater_schedule == "rate(1 day) (UTC)"
    error_message = "rate(1 day) is a valid EventBridge Scheduler expression and must reach the schedule."
  }
}

run "accepts_a_rate_of_twelve_hours" {
  command = plan

  variables {
    schedule_expression = "rate(12 hours)"
  }

  assert {
    condition     = output.updater_schedule == "rate(12 hours) (UTC)"
    error_message = "rate(12 hours) is a valid EventBridge Scheduler expression and must reach the schedule."
  }
}

run "accepts_a_weekday_cron_expression" {
  command = plan

  variables {
    schedule_expression = "cron(0 6 ? * MON-FRI *)"
  }

  assert {
    condition     = output.updater_schedule == "cron(0 6 ? * MON-FRI *) (UTC)"
    error_message = "cron(0 6 ? * MON-FRI *) is a valid EventBridge Scheduler expression and must reach the schedule."
  }
}

run "accepts_a_monthly_cron_expression" {
  command = plan

  variables {
    schedule_expression = "cron(30 4 1 * ? *)"
  }

  assert {
    condition     = output.updater_schedule == "cron(30 4 1 * ? *) (UTC)"
    error_message = "cron(30 4 1 * ? *) is a valid EventBridge Scheduler expression and must reach the schedule."
  }
}

run "rejects_a_recovery_window_secrets_manager_refuses" {
  command = plan

  variables {
    github_token_recovery_window_in_days = 31
  }

  expect_failures = [var.github_token_recovery_window_in_days]
}

run "rejects_zero_reserved_concurrency" {
  command = plan

  variables {
    lambda_reserved_concurrency = 0
  }

  expect_failures = [var.lambda_reserved_concurrency]
}

run "rejects_short_log_retention" {
  command = plan

  variables {
    log_retention_days = 30
  }

  expect_failures = [var.log_retention_days]
}

run "rejects_a_github_repository_without_owner" {
  command = plan

  variables {
    github_repository = "ci-images"
  }

  expect_failures = [var.github_repository]
}

run "rejects_a_bad_domain_name" {
  command = plan

  variables {
    codeartifact_domain_name = "Security_Tools"
  }

  expect_failures = [var.codeartifact_domain_name]
}
