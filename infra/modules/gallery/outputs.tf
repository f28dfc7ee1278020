output "site_bucket" {
  description = "The private bucket the gallery's pages are synced to (`splatlib site DIR`, then `aws s3 sync`)."
  value       = module.site.bucket
}

output "site_bucket_arn" {
  description = "ARN of the site bucket."
  value       = module.site.arn
}

output "origin" {
  description = "The gallery's origin (https://….cloudfront.net): the only origin the API and the assets bucket allow."
  value       = "https://${aws_cloudfront_distribution.site.domain_name}"
}

output "distribution_id" {
  description = "CloudFront distribution (invalidate /* after syncing new pages)."
  value       = aws_cloudfront_distribution.site.id
}

output "user_pool_id" {
  description = "Cognito user pool of the gallery's users (created by an administrator; see the README)."
  value       = aws_cognito_user_pool.users.id
}

output "client_id" {
  description = "The gallery's Cognito app client (no secret: it runs in the browser)."
  value       = aws_cognito_user_pool_client.gallery.id
}

output "issuer" {
  description = "The JWT issuer of the pool, for the HTTP API's authorizer."
  value       = "https://${aws_cognito_user_pool.users.endpoint}"
}
