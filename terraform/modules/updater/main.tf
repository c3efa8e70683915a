# The updater: `builder update --publish --open-pr` as a Lambda, run daily by EventBridge
# Scheduler, one run at a time, with its DLQ, logs, traces, code signing and alarms.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.name
  function_name = "${var.name_prefix}-updater"
  secret_arn    = var.github_token_secret_arn == null ? aws_secretsmanager_secret.github_token[0].arn : var.github_token_secret_arn
  ca            = var.codeartifact

  # One local per policy document; `policies` lists them all for the policy_documents output.
  policies = {
    trust    = { lambda = local.trust_policy_lambda, scheduler = local.trust_policy_scheduler }
    identity = { lambda = local.identity_policy_lambda, scheduler = local.identity_policy_scheduler }
  }

  trust_policy_lambda = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  trust_policy_scheduler = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  identity_policy_lambda = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.lambda.arn}:*"
      },
      {
        # X-Ray's write actions have no resource type.
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
      {
        Sid      = "ReadGithubToken"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = local.secret_arn
      },
      {
        # Environment variables, the secret and the DLQ are encrypted with this key.
        Sid      = "UseOwnKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
      },
      {
        Sid      = "SendFailedEventsToDlq"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.dlq.arn
      },
      {
        # The updater publishes release artifacts to generic-store's builder namespace only
        # (Unfinished per asset, then Published); it never uses a repository endpoint, so it
        # needs no token, and it may not write pip-store or npm-store, which every build reads.
        Sid    = "MirrorArtifacts"
        Effect = "Allow"
        Action = [
          "codeartifact:ListPackageVersionAssets",
          "codeartifact:PublishPackageVersion",
          "codeartifact:UpdatePackageVersionsStatus",
        ]
        Resource = local.ca.generic_package_arn
      },
    ]
  })

  identity_policy_scheduler = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeTheUpdaterOnly"
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = aws_lambda_function.updater.arn
    }]
  })
}

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "lambda" {
  name               = "${local.function_name}-lambda"
  description        = "Runs the builder updater: mirrors release artifacts into generic-store, reads the GitHub token."
  assume_role_policy = local.trust_policy_lambda
}

resource "aws_iam_role_policy" "lambda" {
  name   = "updater"
  role   = aws_iam_role.lambda.id
  policy = local.identity_policy_lambda
}

resource "aws_secretsmanager_secret" "github_token" {
  count = var.github_token_secret_arn == null ? 1 : 0

  #checkov:skip=CKV2_AWS_57:A GitHub token is issued by GitHub, not by an AWS rotation Lambda; it is rotated by hand with put-secret-value (docs/aws.md).
  name                    = "${var.name_prefix}/github-token"
  description             = "GitHub token the updater opens pull requests on ${var.github_repository} with. Value set outside Terraform."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${local.function_name}-dlq"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  message_retention_seconds         = 1209600
}

resource "aws_signer_signing_profile" "updater" {
  name_prefix = "${replace(var.name_prefix, "-", "_")}_updater_"
  platform_id = "AWSLambda-SHA384-ECDSA"

  signature_validity_period {
    value = 5
    type  = "YEARS"
  }
}

resource "aws_lambda_code_signing_config" "updater" {
  description = "Only zips signed by the ${local.function_name} signing profile (policy: ${var.code_signing_policy})."

  allowed_publishers {
    signing_profile_version_arns = [aws_signer_signing_profile.updater.version_arn]
  }

  policies {
    untrusted_artifact_on_deployment = var.code_signing_policy
  }
}

resource "aws_lambda_function" "updater" {
  #checkov:skip=CKV_AWS_117:The updater must reach GitHub, HashiCorp and the public registries behind CodeArtifact; a VPC would only add a NAT gateway in front of the same internet.
  function_name = local.function_name
  description   = "builder update --publish --open-pr for ${var.github_repository}"
  role          = aws_iam_role.lambda.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  runtime          = "python3.11"
  handler          = "builder.updating.lambda_handler.handler"
  architectures    = ["x86_64"]

  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = var.reserved_concurrency
  code_signing_config_arn        = aws_lambda_code_signing_config.updater.arn
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = {
      BUILDER_CODEARTIFACT_DOMAIN       = local.ca.domain_name
      BUILDER_CODEARTIFACT_DOMAIN_OWNER = local.ca.domain_owner
      BUILDER_CODEARTIFACT_REGION       = local.ca.region
      BUILDER_GENERIC_REPOSITORY        = local.ca.generic_repository
      BUILDER_GITHUB_REPOSITORY         = var.github_repository
      BUILDER_GITHUB_TOKEN_SECRET_ARN   = local.secret_arn
      BUILDER_KEYS_PATH                 = var.trusted_keys_path
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda.name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }

  depends_on = [aws_iam_role_policy.lambda]
}

# Scheduler invokes asynchronously. A failed run is not retried by Lambda (the next day's run is
# the retry, and the alarm tells a human); an event that waited too long for the single
# concurrency slot is dropped to the DLQ.
resource "aws_lambda_function_event_invoke_config" "updater" {
  function_name                = aws_lambda_function.updater.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 3600
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.function_name}-scheduler"
  description        = "Lets EventBridge Scheduler invoke ${local.function_name}, and nothing else."
  assume_role_policy = local.trust_policy_scheduler
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-updater"
  role   = aws_iam_role.scheduler.id
  policy = local.identity_policy_scheduler
}

resource "aws_scheduler_schedule" "updater" {
  #checkov:skip=CKV_AWS_297:The schedule sends no payload (a CMK only covers TargetInput), and a CMK would need kms:Decrypt on a role kept to lambda:InvokeFunction.
  name                         = local.function_name
  description                  = "Runs ${local.function_name} (${var.schedule.expression} ${var.schedule.timezone})."
  schedule_expression          = var.schedule.expression
  schedule_expression_timezone = var.schedule.timezone
  state                        = var.schedule.enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.updater.arn
    role_arn = aws_iam_role.scheduler.arn

    retry_policy {
      maximum_retry_attempts       = var.schedule.retry_attempts
      maximum_event_age_in_seconds = var.schedule.max_event_age_seconds
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

locals {
  # Every alarm fires on "more than zero in an hour"; they differ in what they count.
  alarms = {
    tools_failed = {
      name        = "tools-failed"
      description = "The updater could not resolve, verify or mirror at least one tool (metric ToolsFailed)."
      namespace   = var.metrics_namespace
      metric      = "ToolsFailed"
      dimensions  = {}
      statistic   = "Sum"
      notify_ok   = true
    }
    tools_deferred = {
      name        = "tools-deferred"
      description = "A new release was found that the Lambda cannot lock (an npm tool: no npm in its runtime); lock it by hand (metric ToolsDeferred)."
      namespace   = var.metrics_namespace
      metric      = "ToolsDeferred"
      dimensions  = {}
      statistic   = "Sum"
      notify_ok   = false
    }
    errors = {
      name        = "errors"
      description = "The updater Lambda failed (exception, timeout or out of memory)."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.updater.function_name }
      statistic   = "Sum"
      notify_ok   = true
    }
    dlq = {
      name        = "dlq-not-empty"
      description = "An updater invocation failed or was dropped after waiting too long for its single slot."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dlq.name }
      statistic   = "Maximum"
      notify_ok   = false
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "updater" {
  for_each = local.alarms

  alarm_name          = "${local.function_name}-${each.value.name}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = each.value.notify_ok ? [var.alarm_topic_arn] : []
}
