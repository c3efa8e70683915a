output "role_arn" {
  description = "ARN of the CodeBuild service role (a reader of every store)."
  value       = aws_iam_role.codebuild.arn
}

output "project_names" {
  description = "CodeBuild project name of each image."
  value       = { for image, project in aws_codebuild_project.image : image => project.name }
}

output "batch_project_name" {
  description = "CodeBuild project that builds the whole image graph."
  value       = aws_codebuild_project.batch.name
}

output "registry" {
  description = "Image name prefix of the ECR repositories: builder.yaml's `registry` setting."
  value       = "${local.account_id}.dkr.ecr.${local.region}.${data.aws_partition.current.dns_suffix}/${var.name_prefix}"
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each image."
  value       = { for image, repo in aws_ecr_repository.image : image => repo.repository_url }
}

output "log_group_name" {
  description = "Log group of every build."
  value       = aws_cloudwatch_log_group.codebuild.name
}

output "policy_documents" {
  description = "Every policy document of this module by kind (trust, identity), for review and for the tests."
  value       = local.policies
}
