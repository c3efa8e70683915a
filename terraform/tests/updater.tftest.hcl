# The updater module alone: the Lambda, its schedule, DLQ, logs, code signing, alarms and IAM.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name_prefix       = "builder"
  kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  lambda_zip_path   = "tests/fixtures/updater.zip"
  github_repository = "example-org/ci-images"
  alarm_topic_arn   = "arn:aws:sns:eu-west-1:123456789012:builder-alarms"
  codeartifact = {
    domain_name         = "security-tools-domain"
    domain_owner        = "123456789012"
    region              = "eu-west-1"
    generic_repository  = "generic-store"
    generic_package_arn = "arn:aws:codeartifact:eu-west-1:123456789012:package/security-tools-domain/generic-store/generic/builder/*"
  }
}

run "lambda_runs_the_builder_handler_one_at_a_time" {
  module {
    source = "./modules/updater"
  }

  assert {
    condition     = aws_lambda_function.updater.runtime == "python3.11" && aws_lambda_function.updater.handler == "builder.updating.lambda_handler.handler"
    error_message = "The updater must run builder.updating.lambda_handler.handler on python3.11."
  }
  assert {
    condition     = aws_lambda_function.updater.reserved_concurrent_executions == 1
    error_message = "Reserved concurrency must be 1 so that two runs never race."
  }
  assert {
    condition     = aws_lambda_function.updater.timeout == 900
    error_message = "The default timeout must be 900 s."
  }
  assert {
    condition     = aws_lambda_function.updater.filename == var.lambda_zip_path && aws_lambda_function.updater.source_code_hash == filebase64sha256(var.lambda_zip_path)
    error_message = "The function must deploy the zip at lambda_zip_path and redeploy when it changes."
  }
  assert {
    condition     = aws_lambda_function.updater.tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing must be active."
  }
  assert {
    condition     = aws_lambda_function.updater.dead_letter_config[0].target_arn == aws_sqs_queue.dlq.arn
    error_message = "Failed invocations must go to the DLQ."
  }
  assert {
    condition     = aws_lambda_function.updater.code_signing_config_arn == aws_lambda_code_signing_config.updater.arn && aws_lambda_code_signing_config.updater.policies[0].untrusted_artifact_on_deployment == "Warn"
    error_message = "The function must have the code signing config (Warn by default)."
  }
  assert {
    condition     = aws_lambda_function.updater.kms_key_arn == var.kms_key_arn
    error_message = "The environment must be encrypted with the customer-managed key."
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.updater.maximum_retry_attempts == 0
    error_message = "Lambda must not retry a failed run by itself (the alarm and the next day's run do)."
  }
}

run "lambda_environment" {
  module {
    source = "./modules/updater"
  }

  assert {
    condition = aws_lambda_function.updater.environment[0].variables == tomap({
      BUILDER_CODEARTIFACT_DOMAIN       = "security-tools-domain"
      BUILDER_CODEARTIFACT_DOMAIN_OWNER = "123456789012"
      BUILDER_CODEARTIFACT_REGION       = "eu-west-1"
      BUILDER_GENERIC_REPOSITORY        = "generic-store"
      BUILDER_GITHUB_REPOSITORY         = "example-org/ci-images"
      BUILDER_GITHUB_TOKEN_SECRET_ARN   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:builder/github-token-AbCdEf"
      BUILDER_KEYS_PATH                 = ""
    })
    error_message = "The Lambda's environment must carry exactly the BUILDER_* settings the handler reads."
  }
  assert {
    condition     = length(aws_secretsmanager_secret.github_token) == 1 && aws_secretsmanager_secret.github_token[0].kms_key_id == var.kms_key_arn
    error_message = "Without github_token_secret_arn the module must create an encrypted secret (without a value)."
  }
  assert {
    condition     = aws_secretsmanager_secret.github_token[0].recovery_window_in_days == 7
    error_message = "By default a destroyed secret stays recoverable for 7 days."
  }
}

run "existing_secret_is_used_as_is" {
  module {
    source = "./modules/updater"
  }

  variables {
    github_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/github-token-XyZ123"
  }

  assert {
    condition     = length(aws_secretsmanager_secret.github_token) == 0
    error_message = "A passed secret ARN must not create another secret."
  }
  assert {
    condition     = aws_lambda_function.updater.environment[0].variables["BUILDER_GITHUB_TOKEN_SECRET_ARN"] == var.github_token_secret_arn
    error_message = "The Lambda must be told the passed secret's ARN."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "ReadGithubToken"]) == var.github_token_secret_arn
    error_message = "The Lambda may read the passed secret, and only it."
  }
}

run "daily_schedule_with_retries" {
  module {
    source = "./modules/updater"
  }

  assert {
    condition     = aws_scheduler_schedule.updater.schedule_expression == "cron(0 6 * * ? *)" && aws_scheduler_schedule.updater.schedule_expression_timezone == "UTC"
    error_message = "The updater must run daily by default (cron(0 6 * * ? *) UTC)."
  }
  assert {
    condition     = aws_scheduler_schedule.updater.state == "ENABLED"
    error_message = "The schedule must be enabled by default."
  }
  assert {
    condition     = aws_scheduler_schedule.updater.target[0].retry_policy[0].maximum_retry_attempts == 3 && aws_scheduler_schedule.updater.target[0].retry_policy[0].maximum_event_age_in_seconds == 3600
    error_message = "The schedule must retry 3 times within an hour by default."
  }
  assert {
    condition     = aws_scheduler_schedule.updater.target[0].arn == aws_lambda_function.updater.arn && aws_scheduler_schedule.updater.target[0].role_arn == aws_iam_role.scheduler.arn
    error_message = "The schedule must invoke the updater with its own role."
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.scheduler.policy).Statement == [{
      Sid      = "InvokeTheUpdaterOnly"
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = aws_lambda_function.updater.arn
    }]
    error_message = "The scheduler role may only invoke the updater function."
  }
}

run "custom_schedule" {
  module {
    source = "./modules/updater"
  }

  variables {
    schedule = { expression = "rate(12 hours)", retry_attempts = 5, max_event_age_seconds = 7200, enabled = false }
  }

  assert {
    condition     = aws_scheduler_schedule.updater.schedule_expression == "rate(12 hours)" && aws_scheduler_schedule.updater.state == "DISABLED"
    error_message = "The schedule must follow the schedule variable."
  }
  assert {
    condition     = aws_scheduler_schedule.updater.target[0].retry_policy[0].maximum_retry_attempts == 5 && aws_scheduler_schedule.updater.target[0].retry_policy[0].maximum_event_age_in_seconds == 7200
    error_message = "The retry policy must follow the schedule variable."
  }
}

run "rejects_a_bad_schedule_expression" {
  command = plan

  module {
    source = "./modules/updater"
  }

  variables {
    schedule = { expression = "every day at six" }
  }

  expect_failures = [var.schedule]
}

run "logs_dlq_and_alarms_are_encrypted_and_wired" {
  module {
    source = "./modules/updater"
  }

  assert {
    condition     = aws_cloudwatch_log_group.lambda.name == "/aws/lambda/builder-updater" && aws_cloudwatch_log_group.lambda.kms_key_id == var.kms_key_arn && aws_cloudwatch_log_group.lambda.retention_in_days >= 365
    error_message = "The Lambda's log group must be KMS-encrypted and kept at least a year."
  }
  assert {
    condition     = aws_lambda_function.updater.logging_config[0].log_group == aws_cloudwatch_log_group.lambda.name
    error_message = "The Lambda must log to its encrypted log group."
  }
  assert {
    condition     = aws_sqs_queue.dlq.kms_master_key_id == var.kms_key_arn
    error_message = "The DLQ must be encrypted with the customer-managed key."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.updater["tools_failed"].namespace == "builder/updater" &&
      aws_cloudwatch_metric_alarm.updater["tools_failed"].metric_name == "ToolsFailed" &&
      aws_cloudwatch_metric_alarm.updater["tools_failed"].statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.updater["tools_failed"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.updater["tools_failed"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.updater["tools_failed"].alarm_actions == toset([var.alarm_topic_arn])
    )
    error_message = "There must be an alarm on Sum(builder/updater ToolsFailed) > 0 that notifies the topic."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.updater["tools_deferred"].namespace == "builder/updater" &&
      aws_cloudwatch_metric_alarm.updater["tools_deferred"].metric_name == "ToolsDeferred" &&
      aws_cloudwatch_metric_alarm.updater["tools_deferred"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.updater["tools_deferred"].alarm_actions == toset([var.alarm_topic_arn])
    )
    error_message = "A release the Lambda found but could not lock (ToolsDeferred > 0) must reach the topic."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.updater["errors"].namespace == "AWS/Lambda" &&
      aws_cloudwatch_metric_alarm.updater["errors"].metric_name == "Errors" &&
      aws_cloudwatch_metric_alarm.updater["errors"].dimensions["FunctionName"] == aws_lambda_function.updater.function_name &&
      aws_cloudwatch_metric_alarm.updater["errors"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.updater["errors"].alarm_actions == toset([var.alarm_topic_arn])
    )
    error_message = "There must be an alarm on the updater's Lambda Errors that notifies the topic."
  }
}

run "lambda_may_only_mirror_into_generic_store" {
  module {
    source = "./modules/updater"
  }

  assert {
    condition     = flatten([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if contains(flatten([s.Action]), "codeartifact:PublishPackageVersion")]) == [var.codeartifact.generic_package_arn]
    error_message = "The Lambda may publish generic packages in namespace builder of generic-store, and nowhere else."
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : alltrue([for a in flatten([s.Action]) : !contains([
      "codeartifact:GetAuthorizationToken", "sts:GetServiceBearerToken", "codeartifact:PutPackageMetadata", "cloudwatch:PutMetricData",
    ], a)])])
    error_message = "The Lambda uses no repository endpoint (no token), changes no package metadata and sends metrics as EMF log lines (no PutMetricData)."
  }
}

run "secret_recovery_window_is_a_variable" {
  module {
    source = "./modules/updater"
  }

  variables {
    secret_recovery_window_in_days = 0
  }

  assert {
    condition     = aws_secretsmanager_secret.github_token[0].recovery_window_in_days == 0
    error_message = "secret_recovery_window_in_days must reach the secret (0: a re-apply right after a destroy can create it again)."
  }
}

run "rejects_a_recovery_window_secrets_manager_refuses" {
  command = plan

  module {
    source = "./modules/updater"
  }

  variables {
    secret_recovery_window_in_days = 3
  }

  expect_failures = [var.secret_recovery_window_in_days]
}

run "reserved_concurrency_may_be_left_unreserved" {
  module {
    source = "./modules/updater"
  }

  variables {
    reserved_concurrency = null
  }

  assert {
    condition     = aws_lambda_function.updater.reserved_concurrent_executions == null
    error_message = "reserved_concurrency = null must reserve nothing (accounts whose concurrency quota is 10 cannot reserve any)."
  }
}

run "rejects_zero_reserved_concurrency" {
  command = plan

  module {
    source = "./modules/updater"
  }

  variables {
    reserved_concurrency = 0
  }

  expect_failures = [var.reserved_concurrency]
}
