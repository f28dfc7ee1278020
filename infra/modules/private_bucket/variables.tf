variable "name" {
  description = "The bucket's name."
  type        = string
}

variable "common_tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with objects in it."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the objects, or null for SSE-S3 (what CloudFront reads without a key grant)."
  type        = string
  default     = null
}

variable "expire_prefixes" {
  description = "Key prefixes whose objects expire, with their age in days (e.g. intermediate files)."
  type        = map(number)
  default     = {}
}

variable "noncurrent_days" {
  description = "Days an overwritten or deleted object's old version is kept."
  type        = number
  default     = 30
}

variable "policy_statements" {
  description = "More bucket policy statements (IAM JSON objects); the policy always denies requests without TLS."
  type        = any
  default     = []
}
