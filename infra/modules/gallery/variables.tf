variable "project" {
  description = "Name prefix of every resource."
  type        = string
}

variable "environment" {
  description = "Deployment environment (dev, prod, ...)."
  type        = string
}

variable "common_tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "price_class" {
  description = "CloudFront price class (PriceClass_100: North America and Europe edges only, the cheapest)."
  type        = string
  default     = "PriceClass_100"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the site bucket with its pages in it."
  type        = bool
  default     = false
}

variable "token_validity_minutes" {
  description = "How long a browser's sign-in (its ID and access tokens) lasts before it refreshes."
  type        = number
  default     = 60
  validation {
    condition     = var.token_validity_minutes >= 5 && var.token_validity_minutes <= 1440
    error_message = "token_validity_minutes must be from 5 to 1440."
  }
}
