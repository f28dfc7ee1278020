variable "region" {
  description = "AWS region to deploy to (one with g5/g6 Spot capacity)."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "splat"
}

variable "environment" {
  description = "Deployment name."
  type        = string
  default     = "example"
}

variable "image_tag" {
  description = "Tag of the three images pushed to the registry (e.g. the git commit); never `latest`."
  type        = string
  default     = "v0.1.0"
}

variable "max_upload_mb" {
  description = "Largest accepted video, in MiB."
  type        = number
  default     = 2048
}

variable "nat_per_az" {
  description = "One NAT gateway per zone (true) or one shared (false, about $33/month cheaper)."
  type        = bool
  default     = true
}

variable "cors_allowed_origins" {
  description = "Web origins that may upload to the bucket from a browser."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let `terraform destroy` remove a bucket, table and repositories that still hold data."
  type        = bool
  default     = false
}

variable "alarm_email" {
  description = "Address that receives the alarms (confirm the subscription mail), or null."
  type        = string
  default     = null
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget with an alarm at 80% of the forecast, or null."
  type        = number
  default     = null
}
