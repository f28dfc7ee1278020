# The pipeline's Lambda functions, all from one container image (docker/lambda.Dockerfile),
# each with its own handler. Frames: up to 15 minutes and 10 GB of /tmp for long videos.

locals {
  functions = {
    # 10 GB of memory brings 6 vCPUs for ffmpeg's decoding of a long 4K upload within the 15 minutes
    # (frames are capped: 300 by default, 2000 at most); about a cent per minute of a scene's extraction
    extract_frames = { handler = "splatlib.aws.handlers.extract_frames", memory = 10240, timeout = 900, tmp = 10240 }
    convert        = { handler = "splatlib.aws.handlers.convert", memory = 3008, timeout = 900, tmp = 4096 }
    handle_failure = { handler = "splatlib.aws.handlers.handle_failure", memory = 512, timeout = 60, tmp = 512 }
  }
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each          = local.functions
  name              = "/aws/lambda/${local.name}-${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.common_tags
}

resource "aws_lambda_function" "this" {
  for_each                       = local.functions
  function_name                  = "${local.name}-${replace(each.key, "_", "-")}"
  role                           = aws_iam_role.service["lambda"].arn
  package_type                   = "Image"
  image_uri                      = var.images.lambda
  memory_size                    = each.value.memory
  timeout                        = each.value.timeout
  reserved_concurrent_executions = var.lambda_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.common_tags

  image_config {
    command = [each.value.handler]
  }

  ephemeral_storage {
    size = each.value.tmp
  }

  environment {
    variables = local.stage_env
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.lambda]
}
