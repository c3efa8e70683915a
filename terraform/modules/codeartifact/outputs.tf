output "store" {
  description = "Everything a consumer of the domain needs: names, owner, region, ARNs and endpoints."
  value = {
    domain_name         = aws_codeartifact_domain.this.domain
    domain_owner        = aws_codeartifact_domain.this.owner
    domain_arn          = aws_codeartifact_domain.this.arn
    region              = local.region
    generic_repository  = aws_codeartifact_repository.store["generic-store"].repository
    generic_namespace   = local.generic_namespace
    generic_package_arn = local.generic_package_arn
    osv_package_arn     = local.osv_package_arn
    pip_repository      = aws_codeartifact_repository.store["pip-store"].repository
    npm_repository      = aws_codeartifact_repository.store["npm-store"].repository
    maven_repository    = aws_codeartifact_repository.store["maven-store"].repository
    internal_repository = aws_codeartifact_repository.internal.repository
    repository_arns     = local.repository_arns
  }
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the domain (created here or passed in)."
  value       = local.kms_key_arn
}

output "internal_upstreams" {
  description = "internal-store's upstream repositories, in search order."
  value       = [for u in aws_codeartifact_repository.internal.upstream : u.repository_name]
}

output "repository_endpoints" {
  description = "Endpoint URL of each repository per package format (https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/FORMAT/REPO/)."
  value = {
    for repo, formats in {
      "generic-store"  = ["generic"]
      "pip-store"      = ["pypi"]
      "npm-store"      = ["npm"]
      "maven-store"    = ["maven"]
      "internal-store" = ["generic", "pypi", "npm", "maven"]
    } :
    repo => {
      for format in formats :
      format => "https://${aws_codeartifact_domain.this.domain}-${aws_codeartifact_domain.this.owner}.d.codeartifact.${local.region}.${data.aws_partition.current.dns_suffix}/${format}/${repo}/"
    }
  }
}

output "policy_documents" {
  description = "Every policy document of this module by kind (key, resource), for review and for the tests."
  value       = local.policies
}
