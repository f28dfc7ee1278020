# Someone is told when the pipeline breaks: failed executions, Lambda errors and throttles, failed
# Batch jobs (an EventBridge rule: Batch has no failed-jobs metric), all to one SNS topic; the api
# module adds its failed-starts queue. An email subscription and a monthly budget are optional.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.common_tags
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AlarmsEventsAndBudgetsPublish"
      Effect    = "Allow"
      Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"] }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarms = merge(
    {
      executions-failed = {
        namespace  = "AWS/States", metric = "ExecutionsFailed", description = "A scene's pipeline execution failed (its record says why)."
        dimensions = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
      }
    },
    { for pair in setproduct(keys(local.functions), ["Errors", "Throttles"]) :
      "${replace(pair[0], "_", "-")}-${lower(pair[1])}" => {
        namespace  = "AWS/Lambda", metric = pair[1], description = "${pair[1]} of the ${pair[0]} function."
        dimensions = { FunctionName = aws_lambda_function.this[pair[0]].function_name }
      }
    }
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.common_tags
}

resource "aws_cloudwatch_event_rule" "batch_failed" {
  name        = "${local.name}-batch-job-failed"
  description = "A COLMAP or training job of this pipeline failed."
  tags        = var.common_tags
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail      = { status = ["FAILED"], jobQueue = [for q in aws_batch_job_queue.this : q.arn] }
  })
}

resource "aws_cloudwatch_event_target" "batch_failed" {
  rule = aws_cloudwatch_event_rule.batch_failed.name
  arn  = aws_sns_topic.alarms.arn
}

resource "aws_budgets_budget" "monthly" {
  count        = var.monthly_budget_usd == null ? 0 : 1
  name         = "${local.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 80
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
}
