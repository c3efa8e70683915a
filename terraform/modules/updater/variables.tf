variable "name_prefix" {
  description = "Prefix of every name; the function is <name_prefix>-updater."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for the log group, DLQ, secret and environment variables."
  type        = string
}

variable "lambda_zip_path" {
  description = "Path of the deployment zip built by `builder` (Terraform only uploads it)."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository receiving the bump pull requests."
  type        = string
}

variable "github_token_secret_arn" {
  description = "ARN of an existing secret with the GitHub token; null creates an empty one."
  type        = string
  default     = null
}

variable "codeartifact" {
  description = "The `store` output of the codeartifact module."
  type = object({
    domain_name         = string
    domain_owner        = string
    region              = string
    generic_repository  = string
    generic_package_arn = string
  })
}

variable "secret_recovery_window_in_days" {
  description = "Days a destroyed GitHub-token secret stays recoverable (0 or 7-30). Its name stays taken meanwhile, so destroying and re-applying within the window fails: use 0 for a deployment you tear down and re-create."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30 && floor(var.secret_recovery_window_in_days) == var.secret_recovery_window_in_days)
    error_message = "secret_recovery_window_in_days must be 0 (delete at once) or a whole number of days from 7 to 30."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the updater publishes its metrics (ToolsFailed, ...) in."
  type        = string
  default     = "builder/updater"
}

variable "log_retention_days" {
  description = "Retention of the Lambda's log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "log_retention_days must be at least 365."
  }
}

variable "timeout_seconds" {
  description = "Timeout of one run, in seconds."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  description = "Memory of the function, in MB."
  type        = number
  default     = 1024
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the updater: 1 keeps runs one at a time (two would race on the same pull request and versions). null reserves none, for accounts whose concurrency quota is 10 (Lambda keeps 10 unreserved, so those accounts cannot reserve any)."
  type        = number
  default     = 1

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency, false)
    error_message = "reserved_concurrency must be null or a whole number of at least 1 (0 would stop every run)."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp, in MB."
  type        = number
  default     = 2048
}

variable "code_signing_policy" {
  description = "Warn or Enforce: what Lambda does with a zip not signed by the signing profile."
  type        = string
  default     = "Warn"

  validation {
    condition     = contains(["Warn", "Enforce"], var.code_signing_policy)
    error_message = "code_signing_policy must be Warn or Enforce."
  }
}

variable "schedule" {
  description = "When and how EventBridge Scheduler runs the updater."
  type = object({
    expression            = string
    timezone              = optional(string, "UTC")
    enabled               = optional(bool, true)
    retry_attempts        = optional(number, 3)
    max_event_age_seconds = optional(number, 3600)
  })
  default = { expression = "cron(0 6 * * ? *)" }

  # EventBridge Scheduler: rate(1 unit) singular, rate(N units) plural for N > 1; cron has six
  # fields (minutes hours day-of-month month day-of-week year), and exactly one of day-of-month
  # and day-of-week is "?".
  validation {
    condition = can(regex("^rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)$", var.schedule.expression)) || try(
      length([for f in [regex("^cron\\(([0-9*,/-]+) ([0-9*,/-]+) (\\?|[0-9*,/LW-]+) ([0-9A-Za-z*,/-]+) (\\?|[0-9A-Za-z*,/L#-]+) ([0-9*,/-]+)\\)$", var.schedule.expression)] : f if(f[2] == "?") != (f[4] == "?")]) == 1,
      false,
    )
    error_message = "schedule.expression must be rate(1 minute|hour|day), rate(N minutes|hours|days) with N > 1, or cron(minutes hours day-of-month month day-of-week year) with \"?\" in exactly one of day-of-month and day-of-week."
  }

  validation {
    condition     = var.schedule.retry_attempts >= 0 && var.schedule.retry_attempts <= 185
    error_message = "schedule.retry_attempts must be between 0 and 185."
  }

  validation {
    condition     = var.schedule.max_event_age_seconds >= 60 && var.schedule.max_event_age_seconds <= 86400
    error_message = "schedule.max_event_age_seconds must be between 60 and 86400."
  }
}

variable "trusted_keys_path" {
  description = "Path in the repository of the trusted-keys folder (OpenPGP keyrings, sigstore/trusted_root.json and its TUF root) the updater verifies with and keeps refreshed in its pull requests. \"\" means the keys packaged in the zip."
  type        = string
  default     = ""

  validation {
    condition     = var.trusted_keys_path == "" || can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.trusted_keys_path))
    error_message = "trusted_keys_path must be a relative folder path inside the repository, e.g. builder/data/keys."
  }
}
