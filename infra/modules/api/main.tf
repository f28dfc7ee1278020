# The HTTP API (IAM-signed requests, for scripts), the same API for browsers (a Cognito JWT, CORS for the
# gallery's origin) when the gallery module is deployed, and the S3 trigger that starts the pipeline
# when an upload lands.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  functions = {
    api           = "splatlib.aws.api.api"
    upload_landed = "splatlib.aws.api.upload_landed"
  }
  # the same as splatlib.aws.api.ROUTES (tests/test_api_contract.py compares them)
  routes = ["POST /api/scenes", "GET /api/scenes", "GET /api/scenes/{id}", "POST /api/scenes/{id}/retry",
  "DELETE /api/scenes/{id}", "GET /api/openapi.json"]
  # arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> its executions
  executions_arn = replace(var.state_machine_arn, ":stateMachine:", ":execution:")
  # the APIs: "scripts" (SigV4) always, "browser" (JWT) with the gallery
  apis = merge({ scripts = "AWS_IAM" }, var.jwt_issuer == "" ? {} : { browser = "JWT" })
  api_routes = { for pair in setproduct(keys(local.apis), local.routes) : "${pair[0]} ${pair[1]}" => {
    api = pair[0], route = pair[1]
  } }
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
  role                           = aws_iam_role.api.arn
  package_type                   = "Image"
  image_uri                      = var.lambda_image
  memory_size                    = 512
  timeout                        = 30
  reserved_concurrent_executions = var.lambda_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.common_tags

  image_config {
    command = [each.value]
  }

  environment {
    variables = {
      ASSETS_BUCKET     = var.assets_bucket
      SCENES_TABLE      = var.scenes_table
      STATE_MACHINE_ARN = var.state_machine_arn
      MAX_UPLOAD_MB     = tostring(var.max_upload_mb)
    }
  }

  tracing_config {
    mode = "Active"
  }

  # S3 invokes upload_landed asynchronously: uploads whose pipeline could not start are kept here.
  dynamic "dead_letter_config" {
    for_each = each.key == "upload_landed" ? [1] : []
    content {
      target_arn = aws_sqs_queue.failed_starts.arn
    }
  }

  depends_on = [aws_cloudwatch_log_group.lambda]
}

resource "aws_sqs_queue" "failed_starts" {
  name                      = "${local.name}-failed-starts"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.common_tags
}

resource "aws_iam_role" "api" {
  name = "${local.name}-api"
  tags = var.common_tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "api" {
  #checkov:skip=CKV_AWS_290:X-Ray trace upload takes only "*"
  #checkov:skip=CKV_AWS_355:X-Ray trace upload takes only "*"
  name = "api"
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Files"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${var.assets_bucket_arn}/*"]
      },
      {
        Sid      = "ListFiles"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.assets_bucket_arn]
      },
      {
        Sid      = "Records"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
        Resource = [var.scenes_table_arn, "${var.scenes_table_arn}/index/*"]
      },
      {
        Sid      = "Key"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
      {
        Sid      = "StartPipeline"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = [var.state_machine_arn]
      },
      {
        Sid      = "WatchPipeline"
        Effect   = "Allow"
        Action   = ["states:DescribeExecution"]
        Resource = ["${local.executions_arn}:*"]
      },
      {
        Sid      = "FailedStarts"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.failed_starts.arn]
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = [for group in aws_cloudwatch_log_group.lambda : "${group.arn}:*"]
      },
      {
        Sid      = "Traces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      }
    ]
  })
}

# ---- HTTP APIs ---------------------------------------------------------------------------
resource "aws_apigatewayv2_api" "http" {
  for_each      = local.apis
  name          = each.key == "scripts" ? "${local.name}-api" : "${local.name}-api-${each.key}"
  protocol_type = "HTTP"
  tags          = var.common_tags

  # browsers: the gallery's origin only; API Gateway answers the preflight itself
  dynamic "cors_configuration" {
    for_each = each.key == "browser" ? [1] : []
    content {
      allow_origins = var.browser_origins
      allow_methods = ["GET", "POST", "DELETE"]
      allow_headers = ["authorization", "content-type"]
      max_age       = 3600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count            = contains(keys(local.apis), "browser") ? 1 : 0
  api_id           = aws_apigatewayv2_api.http["browser"].id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "api" {
  for_each               = local.apis
  api_id                 = aws_apigatewayv2_api.http[each.key].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this["api"].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  for_each           = local.api_routes
  api_id             = aws_apigatewayv2_api.http[each.value.api].id
  route_key          = each.value.route
  target             = "integrations/${aws_apigatewayv2_integration.api[each.value.api].id}"
  authorization_type = local.apis[each.value.api]
  authorizer_id      = each.value.api == "browser" ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_cloudwatch_log_group" "access" {
  for_each          = local.apis
  name              = each.key == "scripts" ? "/${local.name}/api-access" : "/${local.name}/api-${each.key}-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.common_tags
}

resource "aws_apigatewayv2_stage" "default" {
  for_each    = local.apis
  api_id      = aws_apigatewayv2_api.http[each.key].id
  name        = "$default"
  auto_deploy = true
  tags        = var.common_tags

  default_route_settings {
    throttling_burst_limit = 50
    throttling_rate_limit  = 20
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[each.key].arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", caller = "$context.identity.caller",
      user      = "$context.authorizer.claims.email", route = "$context.routeKey", status = "$context.status",
      latency   = "$context.responseLatency"
    })
  }
}

resource "aws_lambda_permission" "api" {
  for_each      = local.apis
  statement_id  = each.key == "scripts" ? "AllowApiGateway" : "AllowApiGateway-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["api"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http[each.key].execution_arn}/*/*"
}

# ---- upload landed -> start the pipeline ---------------------------------------------------
resource "aws_lambda_permission" "upload" {
  statement_id   = "AllowAssetsBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["upload_landed"].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.assets_bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = var.assets_bucket
  lambda_function {
    lambda_function_arn = aws_lambda_function.this["upload_landed"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "uploads/"
  }
  depends_on = [aws_lambda_permission.upload]
}

resource "aws_cloudwatch_metric_alarm" "failed_starts" {
  alarm_name          = "${local.name}-failed-starts"
  alarm_description   = "An upload landed but its pipeline could not be started (messages in the dead-letter queue)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_starts.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = var.common_tags
}
