# Container registries: the two Batch images and the Lambda image (docker/).
# Tags are immutable: deployments name an exact tag, never `latest`.

locals {
  repositories = {
    colmap = "Batch job: frames -> COLMAP sparse model (CPU)"
    train  = "Batch job: 3D Gaussian training (GPU, gsplat)"
    lambda = "Lambda functions: frames, convert, failure, API"
  }
}

resource "aws_ecr_repository" "this" {
  for_each             = local.repositories
  name                 = "${var.project}-${var.environment}-${each.key}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete
  tags                 = merge(var.common_tags, { Purpose = each.value })

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the newest ${var.keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.keep_images
      }
      action = { type = "expire" }
    }]
  })
}
