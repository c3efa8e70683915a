variable "aws_region" {
  description = "AWS region for every resource (CodeArtifact, Lambda, CodeBuild, ECR)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region name, e.g. us-east-1 or eu-west-1."
  }
}

variable "codeartifact_domain_name" {
  description = "Name of the CodeArtifact domain that holds the five repositories."
  type        = string
  default     = "security-tools-domain"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.codeartifact_domain_name))
    error_message = "codeartifact_domain_name must be 2-50 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "codeartifact_kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key for the CodeArtifact domain. null creates a dedicated key."
  type        = string
  default     = null

  validation {
    condition     = var.codeartifact_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.codeartifact_kms_key_arn))
    error_message = "codeartifact_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

variable "name_prefix" {
  description = "Prefix for the names of the Lambda, roles, log groups, CodeBuild projects and ECR repositories."
  type        = string
  default     = "builder"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "lambda_zip_path" {
  description = "Path of the updater's deployment zip, built by the project's own `builder` command (not by Terraform)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file."
  }
}

variable "github_repository" {
  description = "owner/name of the GitHub repository that receives the version-bump pull requests."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be OWNER/NAME, e.g. my-org/ci-images."
  }
}

variable "github_token_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the GitHub token. null creates an empty secret (put the value in with `aws secretsmanager put-secret-value`)."
  type        = string
  default     = null

  validation {
    condition     = var.github_token_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.github_token_secret_arn))
    error_message = "github_token_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "github_token_recovery_window_in_days" {
  description = "Days the GitHub-token secret this configuration creates stays recoverable after a destroy (0, or 7-30). Secrets Manager keeps its name taken for the whole window, so destroying and re-applying within it fails with \"scheduled for deletion\": set 0 for a deployment you tear down and re-create (see docs/aws.md)."
  type        = number
  default     = 7

  validation {
    condition     = var.github_token_recovery_window_in_days == 0 || (var.github_token_recovery_window_in_days >= 7 && var.github_token_recovery_window_in_days <= 30 && floor(var.github_token_recovery_window_in_days) == var.github_token_recovery_window_in_days)
    error_message = "github_token_recovery_window_in_days must be 0 (delete at once) or a whole number of days from 7 to 30."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression for the updater: rate(...), or cron(...) with six fields. Daily by default."
  type        = string
  default     = "cron(0 6 * * ? *)"

  # EventBridge Scheduler: rate(1 unit) singular, rate(N units) plural for N > 1; cron has six
  # fields (minutes hours day-of-month month day-of-week year), and exactly one of day-of-month
  # and day-of-week is "?".
  validation {
    condition = can(regex("^rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)$", var.schedule_expression)) || try(
      length([for f in [regex("^cron\\(([0-9*,/-]+) ([0-9*,/-]+) (\\?|[0-9*,/LW-]+) ([0-9A-Za-z*,/-]+) (\\?|[0-9A-Za-z*,/L#-]+) ([0-9*,/-]+)\\)$", var.schedule_expression)] : f if(f[2] == "?") != (f[4] == "?")]) == 1,
      false,
    )
    error_message = "schedule_expression must be rate(1 minute|hour|day), rate(N minutes|hours|days) with N > 1, or cron(minutes hours day-of-month month day-of-week year) with \"?\" in exactly one of day-of-month and day-of-week."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone in which a cron schedule_expression is evaluated."
  type        = string
  default     = "UTC"
}

variable "schedule_enabled" {
  description = "Whether the daily schedule is enabled (the Lambda can always be invoked by hand)."
  type        = bool
  default     = true
}

variable "schedule_retry_attempts" {
  description = "How many times EventBridge Scheduler retries a failed invocation of the updater (0-185)."
  type        = number
  default     = 3

  validation {
    condition     = var.schedule_retry_attempts >= 0 && var.schedule_retry_attempts <= 185 && floor(var.schedule_retry_attempts) == var.schedule_retry_attempts
    error_message = "schedule_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "How long EventBridge Scheduler keeps retrying one invocation, in seconds (60-86400)."
  type        = number
  default     = 3600

  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 86400
    error_message = "schedule_max_event_age_seconds must be between 60 and 86400."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of one updater run, in seconds (the Lambda maximum is 900)."
  type        = number
  default     = 900

  validation {
    condition     = var.lambda_timeout_seconds >= 60 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 60 and 900."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of the updater Lambda in MB (also scales its CPU and network)."
  type        = number
  default     = 1024

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the updater. 1 (the default) keeps runs one at a time, so two never race on the same pull request and versions. Lambda keeps 10 executions of the account unreserved, so an account whose concurrency quota is 10 (new accounts) cannot reserve any and the apply fails: set null there (a scheduled run a day rarely overlaps a manual one) or ask for a higher quota."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_reserved_concurrency == null || try(var.lambda_reserved_concurrency >= 1 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency, false)
    error_message = "lambda_reserved_concurrency must be null (reserve none) or a whole number of at least 1 (0 would stop every run)."
  }
}

variable "lambda_ephemeral_storage_mb" {
  description = "Size of the updater's /tmp in MB; it holds the artifacts being mirrored."
  type        = number
  default     = 2048

  validation {
    condition     = var.lambda_ephemeral_storage_mb >= 512 && var.lambda_ephemeral_storage_mb <= 10240
    error_message = "lambda_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "code_signing_policy" {
  description = "What Lambda does with an unsigned or wrongly signed zip: Warn (deploy and log) or Enforce (refuse). Set Enforce once the zip is signed by the signing profile."
  type        = string
  default     = "Warn"

  validation {
    condition     = contains(["Warn", "Enforce"], var.code_signing_policy)
    error_message = "code_signing_policy must be Warn or Enforce."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambda and CodeBuild log groups, in days (at least a year)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values of a year or more: 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic. null subscribes nobody (subscribe yourself later)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "images" {
  description = "Images built by CodeBuild: one ECR repository and one project each, using buildspecs/<image>/buildspec.yml."
  type        = list(string)
  default     = ["base", "container-scanners", "iac-scanners", "code-scanners", "python-scanners", "security-tools"]

  validation {
    condition     = length(var.images) > 0 && alltrue([for i in var.images : can(regex("^[a-z0-9][a-z0-9-]{0,40}$", i))])
    error_message = "images must be a non-empty list of lower-case names (letters, digits, '-')."
  }

  validation {
    condition     = length(distinct(var.images)) == length(var.images)
    error_message = "images must not repeat a name."
  }
}

variable "source_repository_url" {
  description = "Clone URL of the repository CodeBuild builds from. null means https://github.com/<github_repository>.git."
  type        = string
  default     = null

  validation {
    condition     = var.source_repository_url == null || can(regex("^https://", var.source_repository_url))
    error_message = "source_repository_url must be an https:// clone URL."
  }
}

variable "source_type" {
  description = "CodeBuild source type of source_repository_url."
  type        = string
  default     = "GITHUB"

  validation {
    condition     = contains(["GITHUB", "GITHUB_ENTERPRISE", "CODECOMMIT", "BITBUCKET"], var.source_type)
    error_message = "source_type must be GITHUB, GITHUB_ENTERPRISE, CODECOMMIT or BITBUCKET."
  }
}

variable "source_version" {
  description = "Branch, tag or commit CodeBuild builds by default."
  type        = string
  default     = "main"
}

variable "codebuild_image" {
  description = "CodeBuild environment image of the per-image projects (a managed image with Docker and buildx)."
  type        = string
  default     = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
}

variable "image_platforms" {
  description = "Platforms the batch builds each image for; with images it caps the batch's number of builds."
  type        = list(string)
  default     = ["linux/amd64", "linux/arm64"]

  validation {
    condition     = length(var.image_platforms) > 0 && alltrue([for p in var.image_platforms : contains(["linux/amd64", "linux/arm64"], p)])
    error_message = "image_platforms must list linux/amd64 and/or linux/arm64."
  }
}

variable "codebuild_compute_type" {
  description = "CodeBuild compute type of every project, and the only one the batch's builds may ask for (match builder.yaml)."
  type        = string
  default     = "BUILD_GENERAL1_MEDIUM"

  validation {
    condition     = can(regex("^BUILD_GENERAL1_(SMALL|MEDIUM|LARGE|XLARGE|2XLARGE)$", var.codebuild_compute_type))
    error_message = "codebuild_compute_type must be one of BUILD_GENERAL1_SMALL/MEDIUM/LARGE/XLARGE/2XLARGE."
  }
}

variable "ecr_keep_images" {
  description = "How many images of each platform each ECR repository keeps, each with its provenance (older ones expire)."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_images >= 1 && var.ecr_keep_images <= 1000
    error_message = "ecr_keep_images must be between 1 and 1000."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged into the provider's default tags)."
  type        = map(string)
  default     = {}
}

variable "trusted_keys_path" {
  description = "Path in github_repository of the trusted-keys folder the updater verifies with and keeps its Sigstore trusted root refreshed in (e.g. builder/data/keys). \"\" means the keys in the Lambda zip."
  type        = string
  default     = ""
}

variable "audit_offline" {
  description = "The image builds audit from OSV's archives mirrored into CodeArtifact, not the OSV API (builder.yaml `audit: {offline: true}`; fill the mirror with `builder store osv` where there is network). Grants the CodeBuild role read access to namespace osv of generic-store."
  type        = bool
  default     = false
}
