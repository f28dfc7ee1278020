output "api_endpoint" {
  description = "Base URL of the HTTP API for scripts (SigV4)."
  value       = module.api.endpoint
}

output "gallery_url" {
  description = "The gallery in the browser."
  value       = module.gallery.origin
}

output "site_bucket" {
  description = "Where the gallery's pages go: `splatlib site build DIR`, then `aws s3 sync DIR s3://BUCKET`."
  value       = module.gallery.site_bucket
}

output "gallery_distribution_id" {
  description = "CloudFront distribution of the gallery (invalidate /* after a new sync)."
  value       = module.gallery.distribution_id
}

output "user_pool_id" {
  description = "Cognito pool of the gallery's users: add one with `aws cognito-idp admin-create-user`."
  value       = module.gallery.user_pool_id
}

output "bucket" {
  description = "Assets bucket."
  value       = module.storage.bucket
}

output "scenes_table" {
  description = "Scenes table."
  value       = module.storage.table
}

output "repositories" {
  description = "Where to push the colmap, train and lambda images."
  value       = module.registry.repository_urls
}

output "state_machine_arn" {
  description = "The pipeline state machine."
  value       = module.pipeline.state_machine_arn
}
