# An example deployment: storage, registry, pipeline, API and the browser gallery in one region.
# See the README's "Deploy to AWS" section for the order (registry first, then images, then the rest).

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}

locals {
  tags = { Project = var.project, Environment = var.environment, ManagedBy = "terraform" }
  images = {
    for name, url in module.registry.repository_urls : name => "${url}:${var.image_tag}"
  }
}

module "storage" {
  source               = "../../modules/storage"
  project              = var.project
  environment          = var.environment
  common_tags          = local.tags
  cors_allowed_origins = concat(var.cors_allowed_origins, [module.gallery.origin]) # presigned uploads and file URLs
  force_destroy        = var.force_destroy
}

module "registry" {
  source       = "../../modules/registry"
  project      = var.project
  environment  = var.environment
  common_tags  = local.tags
  kms_key_arn  = module.storage.kms_key_arn
  force_delete = var.force_destroy
}

module "pipeline" {
  source             = "../../modules/pipeline"
  project            = var.project
  environment        = var.environment
  common_tags        = local.tags
  assets_bucket      = module.storage.bucket
  assets_bucket_arn  = module.storage.bucket_arn
  scenes_table       = module.storage.table
  scenes_table_arn   = module.storage.table_arn
  kms_key_arn        = module.storage.kms_key_arn
  images             = local.images
  nat_per_az         = var.nat_per_az
  alarm_email        = var.alarm_email
  monthly_budget_usd = var.monthly_budget_usd
}

module "gallery" {
  source        = "../../modules/gallery"
  project       = var.project
  environment   = var.environment
  common_tags   = local.tags
  force_destroy = var.force_destroy
}

module "api" {
  source            = "../../modules/api"
  project           = var.project
  environment       = var.environment
  common_tags       = local.tags
  assets_bucket     = module.storage.bucket
  assets_bucket_arn = module.storage.bucket_arn
  scenes_table      = module.storage.table
  scenes_table_arn  = module.storage.table_arn
  kms_key_arn       = module.storage.kms_key_arn
  state_machine_arn = module.pipeline.state_machine_arn
  alarm_topic_arn   = module.pipeline.alarm_topic_arn
  lambda_image      = local.images["lambda"]
  max_upload_mb     = var.max_upload_mb
  browser_origins   = [module.gallery.origin]
  jwt_issuer        = module.gallery.issuer
  jwt_audience      = [module.gallery.client_id]
}

# what the gallery's pages need to find the API and sign in (read by splatlib/web/static/common.js)
resource "aws_s3_object" "gallery_config" {
  bucket        = module.gallery.site_bucket
  key           = "config.json"
  content_type  = "application/json"
  cache_control = "no-cache"
  content = jsonencode({
    api      = module.api.browser_endpoint
    region   = var.region
    userPool = module.gallery.user_pool_id
    clientId = module.gallery.client_id
  })
}
