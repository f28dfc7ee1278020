output "bucket" {
  description = "The bucket's name."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.this.arn
}

output "id" {
  description = "The bucket's id (its name), for the resources that configure it further."
  value       = aws_s3_bucket.this.id
}

output "regional_domain_name" {
  description = "The bucket's regional endpoint (a CloudFront origin)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}
