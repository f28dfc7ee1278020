resource "aws_cloudwatch_log_group" "sfn" {
  name              = "/aws/vendedlogs/states/${local.name}-pipeline"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.common_tags
}

resource "aws_sfn_state_machine" "pipeline" {
  name     = "${local.name}-pipeline"
  role_arn = aws_iam_role.service["sfn"].arn
  type     = "STANDARD"
  tags     = var.common_tags

  # The definition lives in its own file so that tests load, validate and execute it.
  definition = templatefile("${path.module}/state_machine.asl.json", {
    extract_frames_function_arn = aws_lambda_function.this["extract_frames"].arn
    convert_function_arn        = aws_lambda_function.this["convert"].arn
    handle_failure_function_arn = aws_lambda_function.this["handle_failure"].arn
    colmap_job_definition_arn   = aws_batch_job_definition.this["colmap"].arn
    train_job_definition_arn    = aws_batch_job_definition.this["train"].arn
    cpu_job_queue_arn           = aws_batch_job_queue.this["cpu"].arn
    gpu_job_queue_arn           = aws_batch_job_queue.this["gpu"].arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.sfn.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }
}
