terraform {
  # mock_provider in terraform test needs 1.7.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ Project = "builder", ManagedBy = "terraform" }, var.tags)
  }
}
