variable "name_prefix" {
  description = "Prefix of the project, role, log group and ECR repository names."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for ECR, CodeBuild and the log group."
  type        = string
}

variable "provenance_key_arn" {
  description = "ARN of the asymmetric KMS key (SIGN_VERIFY) the image builds sign their provenance with."
  type        = string
}

variable "images" {
  description = "Image names; each gets an ECR repository <name_prefix>/<image> and a project using buildspecs/<image>/buildspec.yml."
  type        = list(string)
}

variable "source_type" {
  description = "CodeBuild source type (GITHUB, GITHUB_ENTERPRISE, CODECOMMIT, BITBUCKET)."
  type        = string

  validation {
    condition     = contains(["GITHUB", "GITHUB_ENTERPRISE", "CODECOMMIT", "BITBUCKET"], var.source_type)
    error_message = "source_type must be GITHUB, GITHUB_ENTERPRISE, CODECOMMIT or BITBUCKET."
  }
}

variable "source_location" {
  description = "Clone URL of the repository holding buildspecs/."
  type        = string
}

variable "source_version" {
  description = "Branch, tag or commit built by default."
  type        = string
  default     = "main"
}

variable "build_image" {
  description = "CodeBuild environment image of the per-image projects (batch entries name their own)."
  type        = string
  default     = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
}

variable "platforms" {
  description = "Platforms each image is built for by the batch (one batch entry per image and platform)."
  type        = list(string)
  default     = ["linux/amd64", "linux/arm64"]
}

variable "compute_type" {
  description = "CodeBuild compute type of the projects, and the only one batch entries may ask for."
  type        = string
  default     = "BUILD_GENERAL1_MEDIUM"
}

variable "build_timeout_minutes" {
  description = "Timeout of one image build, in minutes."
  type        = number
  default     = 60

  validation {
    condition     = var.build_timeout_minutes >= 5 && var.build_timeout_minutes <= 2160
    error_message = "build_timeout_minutes must be between 5 and 2160."
  }
}

variable "batch_timeout_minutes" {
  description = "Timeout of a whole batch build, in minutes."
  type        = number
  default     = 180

  validation {
    condition     = var.batch_timeout_minutes >= 5 && var.batch_timeout_minutes <= 2160
    error_message = "batch_timeout_minutes must be between 5 and 2160."
  }
}

variable "log_retention_days" {
  description = "Retention of the build log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "log_retention_days must be at least 365."
  }
}

variable "ecr_keep_images" {
  description = "Images kept per ECR repository and platform (each with its provenance)."
  type        = number
  default     = 30
}

variable "codeartifact" {
  description = "The `store` output of the codeartifact module."
  type = object({
    domain_name         = string
    domain_owner        = string
    domain_arn          = string
    region              = string
    generic_repository  = string
    generic_package_arn = string
    osv_package_arn     = string
    internal_repository = string
    repository_arns     = map(string)
  })
}

variable "artifact_retention_days" {
  description = "Days each build's SBOM and provenance are kept in the artifacts bucket."
  type        = number
  default     = 400
}

variable "audit_offline" {
  description = "The builds audit from the OSV archives mirrored into CodeArtifact (builder.yaml `audit: {offline: true}`), so the role reads them."
  type        = bool
  default     = false
}
