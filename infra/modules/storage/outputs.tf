output "bucket" {
  description = "Name of the assets bucket."
  value       = module.assets.bucket
}

output "bucket_arn" {
  description = "ARN of the assets bucket."
  value       = module.assets.arn
}

output "table" {
  description = "Name of the scenes table."
  value       = aws_dynamodb_table.scenes.name
}

output "table_arn" {
  description = "ARN of the scenes table."
  value       = aws_dynamodb_table.scenes.arn
}

output "kms_key_arn" {
  description = "The key that encrypts files, records, logs and images."
  value       = aws_kms_key.data.arn
}
