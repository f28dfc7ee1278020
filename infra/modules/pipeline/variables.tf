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
  description = "Name of the scenes table (storage module)."
  type        = string
}

variable "scenes_table_arn" {
  description = "ARN of the scenes table."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the bucket, table and logs (storage module)."
  type        = string
}

variable "images" {
  description = "Image URIs with exact tags (docker/): colmap and train for the Batch jobs, lambda for the functions."
  type = object({
    colmap = string
    train  = string
    lambda = string
  })
  validation {
    condition     = alltrue([for uri in values(var.images) : can(regex(":[A-Za-z0-9_.-]+$", uri)) && !endswith(uri, ":latest")])
    error_message = "Give every image an exact tag (not :latest)."
  }
}

variable "vpc_cidr" {
  description = "Address range of the pipeline's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread Batch instances over."
  type        = number
  default     = 2
}

variable "nat_per_az" {
  description = "One NAT gateway per zone (survives a zone outage) instead of one shared (cheaper)."
  type        = bool
  default     = true
}

variable "cpu_instance_types" {
  description = "Spot instance types for the COLMAP queue."
  type        = list(string)
  default     = ["c6i.2xlarge", "c6a.2xlarge", "c7i.2xlarge"]
}

variable "gpu_instance_types" {
  description = "Spot instance types for the training queue (one NVIDIA GPU each)."
  type        = list(string)
  default     = ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"]
}

variable "cpu_max_vcpus" {
  description = "Most vCPUs the COLMAP queue may run at once."
  type        = number
  default     = 32
}

variable "gpu_max_vcpus" {
  description = "Most vCPUs the training queue may run at once (4 per g5.xlarge)."
  type        = number
  default     = 16
}

variable "lambda_concurrency" {
  description = "Reserved concurrency of each pipeline Lambda, or null (default) for none. A reservation is taken from the account's pool, of which 100 must stay unreserved: on a new account (quota 1000, sometimes 10) reserving makes apply fail."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep CloudWatch logs."
  type        = number
  default     = 365
}

variable "on_demand_fallback" {
  description = "Put an on-demand compute environment behind each Spot one (jobs still run when Spot capacity or quota is missing)."
  type        = bool
  default     = true
}

variable "queue_wait_minutes" {
  description = "How long a Batch job may wait for an instance (RUNNABLE) before it is cancelled and its scene fails with 'no capacity'."
  type        = number
  default     = 60
  validation {
    condition     = var.queue_wait_minutes >= 10 && var.queue_wait_minutes <= 120
    error_message = "Between 10 and 120 minutes (the state machine's timeouts allow 120)."
  }
}

variable "batch_root_volume_gb" {
  description = "Root volume of the Batch hosts: the CUDA training image and a scene's data must fit."
  type        = number
  default     = 100
}

variable "alarm_email" {
  description = "Address that receives the pipeline's alarms (it must confirm the subscription), or null."
  type        = string
  default     = null
}

variable "monthly_budget_usd" {
  description = "A monthly cost budget that alarms at 80% of its forecast, or null for none."
  type        = number
  default     = null
}
