# Values for the attributes AWS computes. Under mock_provider they would otherwise be random
# strings, and the provider's own ARN validation rejects those in `command = apply` runs.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform-test"
    user_id    = "AIDAEXAMPLEEXAMPLE"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_region" {
  defaults = {
    name        = "eu-west-1"
    endpoint    = "ec2.eu-west-1.amazonaws.com"
    description = "Europe (Ireland)"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock-role"
  }
}

mock_resource "aws_codeartifact_domain" {
  defaults = {
    arn   = "arn:aws:codeartifact:eu-west-1:123456789012:domain/security-tools-domain"
    owner = "123456789012"
  }
}

mock_resource "aws_codeartifact_repository" {
  defaults = {
    arn                   = "arn:aws:codeartifact:eu-west-1:123456789012:repository/security-tools-domain/mock"
    administrator_account = "123456789012"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn           = "arn:aws:lambda:eu-west-1:123456789012:function:builder-updater"
    qualified_arn = "arn:aws:lambda:eu-west-1:123456789012:function:builder-updater:1"
    invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:builder-updater/invocations"
  }
}

mock_resource "aws_lambda_code_signing_config" {
  defaults = {
    arn = "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-0123456789abcdef0"
  }
}

mock_resource "aws_signer_signing_profile" {
  defaults = {
    arn         = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/builder_updater_mock"
    version_arn = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/builder_updater_mock/AbCdEfGhIj"
    name        = "builder_updater_mock"
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:builder-updater-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/builder-updater-dlq"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:eu-west-1:123456789012:builder-alarms"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:builder/github-token-AbCdEf"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/builder/mock"
    repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/builder/mock"
  }
}

mock_resource "aws_codebuild_project" {
  defaults = {
    arn = "arn:aws:codebuild:eu-west-1:123456789012:project/mock"
  }
}

mock_resource "aws_scheduler_schedule" {
  defaults = {
    arn = "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/builder-updater"
  }
}
