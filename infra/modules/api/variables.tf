variable "project" {
  description = "Name prefix of every resource."
  type        = string
}

variable "environment" {
  description = "Deployment name, part of resource names."
  type        = string
}

variable "common_tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "assets_bucket" {
  description = "Name of the assets bucket (storage module)."
  type        = string
}

variable "assets_bucket_arn" {
  description = "ARN of the assets bucket."
  type        = string
}

variable "scenes_table" {
  description = "Name of the scenes table."
  type        = string
}

variable "scenes_table_arn" {
  description = "ARN of the scenes table."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the bucket, table and logs."
  type        = string
}

variable "state_machine_arn" {
  description = "The pipeline state machine (pipeline module)."
  type        = string
}

variable "lambda_image" {
  description = "Image URI with an exact tag for the Lambda functions (docker/lambda.Dockerfile)."
  type        = string
  validation {
    condition     = can(regex(":[A-Za-z0-9_.-]+$", var.lambda_image)) && !endswith(var.lambda_image, ":latest")
    error_message = "Give the image an exact tag (not :latest)."
  }
}

variable "max_upload_mb" {
  description = "Largest video the presigned upload accepts, in MiB."
  type        = number
  default     = 2048
}

variable "lambda_concurrency" {
  description = "Reserved concurrency of each api Lambda, or null (default) for none. A reservation is taken from the account's pool, of which 100 must stay unreserved: on a new account (quota 1000, sometimes 10) reserving makes apply fail."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep CloudWatch logs."
  type        = number
  default     = 365
}

variable "alarm_topic_arn" {
  description = "SNS topic for the alarm on uploads whose pipeline could not be started (pipeline module output)."
  type        = string
}

variable "browser_origins" {
  description = "Origins of the gallery (its CloudFront URL); when given with jwt_issuer, a second HTTP API answers browsers: the same routes, a Cognito JWT instead of SigV4, CORS for these origins only."
  type        = list(string)
  default     = []
}

variable "jwt_issuer" {
  description = "Issuer of the browsers' JWTs (the gallery module's Cognito pool, https://cognito-idp.REGION.amazonaws.com/POOL_ID); empty: no browser API."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "Accepted audiences of those JWTs (the gallery's Cognito app client id)."
  type        = list(string)
  default     = []
}
