output "role_arn" {
  description = "ARN of the updater's execution role (the only publisher to the stores)."
  value       = aws_iam_role.lambda.arn
}

output "function_name" {
  description = "Name of the updater Lambda."
  value       = aws_lambda_function.updater.function_name
}

output "function_arn" {
  description = "ARN of the updater Lambda."
  value       = aws_lambda_function.updater.arn
}

output "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.updater.name
}

output "schedule_expression" {
  description = "When the updater runs."
  value       = "${aws_scheduler_schedule.updater.schedule_expression} (${aws_scheduler_schedule.updater.schedule_expression_timezone})"
}

output "github_token_secret_arn" {
  description = "ARN of the secret holding the GitHub token."
  value       = local.secret_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue of failed or dropped invocations."
  value       = aws_sqs_queue.dlq.url
}

output "signing_profile_name" {
  description = "Signer profile whose signatures the code signing config accepts."
  value       = aws_signer_signing_profile.updater.name
}

output "log_group_name" {
  description = "Log group of the updater."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "policy_documents" {
  description = "Every policy document of this module by kind (trust, identity), for review and for the tests."
  value       = local.policies
}
