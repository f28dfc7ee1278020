locals {
  service_principals = {
    sfn            = "states.amazonaws.com"
    lambda         = "lambda.amazonaws.com"
    batch-service  = "batch.amazonaws.com"
    batch-instance = "ec2.amazonaws.com"
    batch-job      = "ecs-tasks.amazonaws.com"
    flow-logs      = "vpc-flow-logs.amazonaws.com"
  }
  # services whose trust may require the request to come from this account (confused-deputy
  # prevention, as each service documents); Lambda and EC2 do not send aws:SourceAccount when
  # they assume an execution or instance role, so a condition there would lock them out
  source_account_checked = ["sfn", "batch-service", "batch-job", "flow-logs"]

  # What every stage may do with the library: read every file, write and delete only what the
  # stages derive (the original under uploads/ is never modified), its records and its key.
  library_statements = [
    {
      Sid      = "ReadFiles"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${var.assets_bucket_arn}/*"]
    },
    {
      Sid      = "WriteDerivedFiles"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:DeleteObject"]
      Resource = [for prefix in ["frames", "sfm", "outputs"] : "${var.assets_bucket_arn}/${prefix}/*"]
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
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
      Resource = [var.scenes_table_arn, "${var.scenes_table_arn}/index/*"]
    },
    {
      Sid      = "Key"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }
  ]
}

# One role per AWS service that acts for the pipeline; each gets its policy below.
resource "aws_iam_role" "service" {
  for_each = local.service_principals
  name     = "${local.name}-${each.key}"
  tags     = var.common_tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [merge({
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = each.value }
      }, contains(local.source_account_checked, each.key) ? {
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    } : {})]
  })
}

# ---- Step Functions --------------------------------------------------------------------
resource "aws_iam_role_policy" "sfn" {
  #checkov:skip=CKV_AWS_290:batch:DescribeJobs/TerminateJob under submitJob.sync take no narrower resource (AWS docs; DESIGN.md 5.2)
  #checkov:skip=CKV_AWS_355:the same statements, and log delivery and X-Ray, which take only "*"
  name = "pipeline"
  role = aws_iam_role.service["sfn"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeStages"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = flatten([for fn in aws_lambda_function.this : [fn.arn, "${fn.arn}:*"]])
      },
      {
        Sid    = "SubmitOurJobs"
        Effect = "Allow"
        Action = ["batch:SubmitJob"]
        Resource = concat([for q in aws_batch_job_queue.this : q.arn],
        [for j in aws_batch_job_definition.this : "arn:${local.partition}:batch:${local.region}:${local.account_id}:job-definition/${j.name}:*"])
      },
      {
        # batch:submitJob.sync watches and stops the job: these take no narrower resource
        Sid      = "WatchBatchJobs"
        Effect   = "Allow"
        Action   = ["batch:DescribeJobs", "batch:TerminateJob"]
        Resource = "*"
      },
      {
        Sid      = "BatchJobEvents"
        Effect   = "Allow"
        Action   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
        Resource = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForBatchJobsRule"
      },
      {
        Sid    = "DeliverLogsAndTraces"
        Effect = "Allow"
        Action = [
          "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
          "xray:GetSamplingRules", "xray:GetSamplingTargets"
        ]
        Resource = "*"
      }
    ]
  })
}

# ---- Lambda ------------------------------------------------------------------------------
resource "aws_iam_role_policy" "lambda" {
  #checkov:skip=CKV_AWS_290:X-Ray trace upload takes only "*"
  #checkov:skip=CKV_AWS_355:X-Ray trace upload takes only "*"
  name = "stages"
  role = aws_iam_role.service["lambda"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.library_statements, [
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
    ])
  })
}

# ---- Batch -------------------------------------------------------------------------------
resource "aws_iam_role_policy_attachment" "batch_service" {
  role       = aws_iam_role.service["batch-service"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

resource "aws_iam_role_policy_attachment" "batch_instance" {
  role       = aws_iam_role.service["batch-instance"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "batch" {
  name = "${local.name}-batch-instance"
  role = aws_iam_role.service["batch-instance"].name
  tags = var.common_tags
}

# The containers: library access only (no task tokens under .sync).
resource "aws_iam_role_policy" "batch_job" {
  name   = "stages"
  role   = aws_iam_role.service["batch-job"].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.library_statements })
}

# ---- VPC flow logs -----------------------------------------------------------------------
resource "aws_iam_role_policy" "flow" {
  name = "flow-logs"
  role = aws_iam_role.service["flow-logs"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow.arn}:*"
    }]
  })
}
