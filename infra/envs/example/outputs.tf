output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.api.endpoint
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
