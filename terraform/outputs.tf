output "codeartifact_domain_name" {
  description = "Name of the CodeArtifact domain."
  value       = module.codeartifact.store.domain_name
}

output "codeartifact_domain_owner" {
  description = "Account that owns the domain (the --domain-owner of every codeartifact command)."
  value       = module.codeartifact.store.domain_owner
}

output "codeartifact_region" {
  description = "Region of the domain."
  value       = module.codeartifact.store.region
}

output "codeartifact_kms_key_arn" {
  description = "Key that encrypts the domain's assets."
  value       = module.codeartifact.kms_key_arn
}

output "repository_endpoints" {
  description = "Endpoint of each repository per format: https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/FORMAT/REPO/."
  value       = module.codeartifact.repository_endpoints
}

output "pip_index_url" {
  description = "Index URL for pip in builds (internal-store, pypi format; add aws:<token>@ credentials at use)."
  value       = "${module.codeartifact.repository_endpoints["internal-store"]["pypi"]}simple/"
}

output "internal_store_upstreams" {
  description = "internal-store's upstreams in search order."
  value       = module.codeartifact.internal_upstreams
}

output "updater_function_name" {
  description = "Name of the updater Lambda (aws lambda invoke --function-name ...)."
  value       = module.updater.function_name
}

output "updater_schedule_name" {
  description = "Name of the EventBridge Scheduler schedule that runs the updater."
  value       = module.updater.schedule_name
}

output "updater_schedule" {
  description = "When the updater runs (expression and time zone)."
  value       = module.updater.schedule_expression
}

output "github_token_secret_arn" {
  description = "Secret holding the GitHub token (set its value with aws secretsmanager put-secret-value)."
  value       = module.updater.github_token_secret_arn
}

output "updater_dlq_url" {
  description = "Dead-letter queue of failed or dropped updater invocations."
  value       = module.updater.dlq_url
}

output "updater_signing_profile_name" {
  description = "AWS Signer profile for signing the updater zip (needed once code_signing_policy is Enforce)."
  value       = module.updater.signing_profile_name
}

output "alarm_topic_arn" {
  description = "SNS topic of the updater's alarms."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "Key of the logs, alarm topic, DLQ, secret, ECR and CodeBuild."
  value       = aws_kms_key.main.arn
}

output "registry" {
  description = "Value for builder.yaml's `registry` setting (<account>.dkr.ecr.<region>.amazonaws.com/<name_prefix>)."
  value       = module.codebuild.registry
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each image."
  value       = module.codebuild.ecr_repository_urls
}

output "codebuild_project_names" {
  description = "CodeBuild project of each image."
  value       = module.codebuild.project_names
}

output "codebuild_batch_project_name" {
  description = "CodeBuild project that builds every image as one batch (build-graph)."
  value       = module.codebuild.batch_project_name
}

output "iam_policy_documents" {
  description = "Every policy document (IAM identity and trust policies, resource and key policies), grouped by module and kind; tests/iam.tftest.hcl checks each statement."
  value = {
    root         = local.policies
    codeartifact = module.codeartifact.policy_documents
    updater      = module.updater.policy_documents
    codebuild    = module.codebuild.policy_documents
  }
}

output "provenance_key_alias" {
  description = "Alias of the KMS key that signs image provenance: put it in builder.yaml's provenance.kms_key for `builder verify-image`."
  value       = aws_kms_alias.provenance.name
}
