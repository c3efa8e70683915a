# The AWS side of `builder`: the CodeArtifact mirror, the daily updater Lambda and the
# CodeBuild projects that build the images. See docs/aws.md for deploying and running it.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Log groups whose data the shared key may encrypt (the logs service is limited to these).
  log_group_arn_patterns = [
    "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/lambda/${var.name_prefix}-*",
    "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/codebuild/${var.name_prefix}*",
  ]

  # Every policy document is a local of its own (one local per document keeps the dependency
  # graph acyclic); `policies` lists them all, by kind, for the `iam_policy_documents` output and
  # tests/iam.tftest.hcl. tests/test_terraform.py fails if a resource takes a policy from elsewhere.
  policies = {
    key      = { main = local.key_policy_main, provenance = local.key_policy_provenance }
    resource = { alarm_topic = local.resource_policy_alarm_topic }
  }

  key_policy_main = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # In a key policy "*" means this key. The account statement delegates to IAM, and is
        # what keeps the key manageable (without it AWS refuses the policy as a lock-out).
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsOurLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action = [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:DescribeKey",
        ]
        Resource = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arn_patterns }
        }
      },
      {
        # Alarms publish to the encrypted topic as the CloudWatch service.
        Sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
      },
    ]
  })

  # The provenance key's policy only delegates to IAM: the CodeBuild role's own policy grants
  # kms:Sign on this key alone (modules/codebuild), and verifiers ask for its public half.
  key_policy_provenance = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  resource_policy_alarm_topic = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsOfThisAccountPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${var.aws_region}:${local.account_id}:alarm:${var.name_prefix}-*" }
      }
    }]
  })
}

# One customer-managed key for logs, the alarm topic, the DLQ, the GitHub token secret, the
# Lambda's environment, ECR and CodeBuild. The CodeArtifact domain has its own (see the module).
resource "aws_kms_key" "main" {
  description             = "${var.name_prefix}: logs, alarms, updater DLQ and secret, ECR, CodeBuild"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.key_policy_main
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.main.key_id
}

# The asymmetric key that signs each image's SLSA provenance (`builder provenance`, run by the
# image buildspecs); `builder verify-image` checks with its public half (kms:GetPublicKey).
resource "aws_kms_key" "provenance" {
  #checkov:skip=CKV_AWS_7:KMS rotates only symmetric keys; a signing key is replaced by a new key and alias.
  description              = "${var.name_prefix}: signs the SLSA provenance of each built image"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 30
  policy                   = local.key_policy_provenance
}

resource "aws_kms_alias" "provenance" {
  name          = "alias/${var.name_prefix}-provenance"
  target_key_id = aws_kms_key.provenance.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = local.resource_policy_alarm_topic
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "codeartifact" {
  source = "./modules/codeartifact"

  domain_name         = var.codeartifact_domain_name
  kms_key_arn         = var.codeartifact_kms_key_arn
  reader_role_arns    = [module.codebuild.role_arn]
  publisher_role_arns = [module.updater.role_arn]
  # Granted only when the builds audit offline; otherwise nobody reads namespace osv.
  osv_reader_role_arns = var.audit_offline ? [module.codebuild.role_arn] : []
}

module "updater" {
  source = "./modules/updater"

  name_prefix             = var.name_prefix
  kms_key_arn             = aws_kms_key.main.arn
  lambda_zip_path         = var.lambda_zip_path
  github_repository       = var.github_repository
  github_token_secret_arn = var.github_token_secret_arn
  codeartifact            = module.codeartifact.store
  alarm_topic_arn         = aws_sns_topic.alarms.arn
  log_retention_days      = var.log_retention_days
  timeout_seconds         = var.lambda_timeout_seconds
  memory_mb               = var.lambda_memory_mb
  ephemeral_storage_mb    = var.lambda_ephemeral_storage_mb
  reserved_concurrency    = var.lambda_reserved_concurrency
  code_signing_policy     = var.code_signing_policy
  trusted_keys_path       = var.trusted_keys_path

  secret_recovery_window_in_days = var.github_token_recovery_window_in_days

  schedule = {
    expression            = var.schedule_expression
    timezone              = var.schedule_timezone
    enabled               = var.schedule_enabled
    retry_attempts        = var.schedule_retry_attempts
    max_event_age_seconds = var.schedule_max_event_age_seconds
  }
}

module "codebuild" {
  source = "./modules/codebuild"

  name_prefix        = var.name_prefix
  kms_key_arn        = aws_kms_key.main.arn
  provenance_key_arn = aws_kms_key.provenance.arn
  images             = var.images
  source_type        = var.source_type
  source_location    = coalesce(var.source_repository_url, "https://github.com/${var.github_repository}.git")
  source_version     = var.source_version
  build_image        = var.codebuild_image
  compute_type       = var.codebuild_compute_type
  platforms          = var.image_platforms
  log_retention_days = var.log_retention_days
  ecr_keep_images    = var.ecr_keep_images
  codeartifact       = module.codeartifact.store
  audit_offline      = var.audit_offline
}
