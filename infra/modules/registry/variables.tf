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

variable "kms_key_arn" {
  description = "KMS key that encrypts the images."
  type        = string
}

variable "keep_images" {
  description = "Images kept per repository; older ones are expired."
  type        = number
  default     = 10
}

variable "force_delete" {
  description = "Let `terraform destroy` delete repositories that still hold images."
  type        = bool
  default     = false
}
