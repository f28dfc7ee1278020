# Files (S3) and scene records (DynamoDB), encrypted with one customer-managed KMS key.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
}

resource "aws_kms_key" "data" {
  description             = "${local.name}: scene files, records and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.common_tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypts"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid       = "AlarmsPublishToTheEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      }
    ]
  })
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.data.key_id
}

module "assets" {
  source          = "../private_bucket"
  name            = "${local.name}-assets-${local.account_id}"
  common_tags     = var.common_tags
  force_destroy   = var.force_destroy
  kms_key_arn     = aws_kms_key.data.arn
  expire_prefixes = { "frames/" = var.intermediate_days, "sfm/" = var.intermediate_days }
  noncurrent_days = var.noncurrent_days
}

resource "aws_s3_bucket_cors_configuration" "assets" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = module.assets.id
  cors_rule {
    allowed_methods = ["GET", "POST"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    max_age_seconds = 3600
  }
}

resource "aws_dynamodb_table" "scenes" {
  name                        = "${local.name}-scenes"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = !var.force_destroy
  tags                        = var.common_tags

  attribute {
    name = "id"
    type = "S"
  }
  attribute {
    name = "status"
    type = "S"
  }
  attribute {
    name = "createdAt"
    type = "N"
  }

  # Listing: newest scenes of one status (splatlib.aws.dynamodb.STATUS_INDEX).
  global_secondary_index {
    name            = "status-createdAt"
    hash_key        = "status"
    range_key       = "createdAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}
