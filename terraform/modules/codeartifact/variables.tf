variable "domain_name" {
  description = "Name of the CodeArtifact domain."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.domain_name))
    error_message = "domain_name must be 2-50 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key for the domain; null creates one."
  type        = string
  default     = null
}

variable "reader_role_arns" {
  description = "IAM role ARNs that download generic-store's artifacts and read through internal-store (the CodeBuild role)."
  type        = list(string)
}

variable "publisher_role_arns" {
  description = "IAM role ARNs that publish to generic-store, in the builder namespace only (the updater role)."
  type        = list(string)
}

variable "osv_reader_role_arns" {
  description = "IAM role ARNs that read the OSV archives `builder store osv` mirrored into generic-store (an offline `builder audit`)."
  type        = list(string)
  default     = []
}
