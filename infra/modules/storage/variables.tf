variable "project" {
  description = "Name prefix of every resource."
  type        = string
}

variable "environment" {
  description = "Deployment name (dev, prod, ...), part of resource names."
  type        = string
}

variable "common_tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "intermediate_days" {
  description = "Days to keep frames/ and sfm/ objects (the uploads and outputs are kept)."
  type        = number
  default     = 30
}

variable "noncurrent_days" {
  description = "Days to keep overwritten or deleted object versions."
  type        = number
  default     = 30
}

variable "cors_allowed_origins" {
  description = "Web origins allowed to upload with presigned POSTs and to fetch scenes (a viewer page)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let `terraform destroy` empty the bucket and drop the table (for test deployments)."
  type        = bool
  default     = false
}
