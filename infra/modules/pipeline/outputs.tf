output "state_machine_arn" {
  description = "The pipeline; the API starts one execution per uploaded scene."
  value       = aws_sfn_state_machine.pipeline.arn
}

output "function_names" {
  description = "Lambda function names of the pipeline states."
  value       = { for key, fn in aws_lambda_function.this : key => fn.function_name }
}

output "job_queues" {
  description = "Batch job queue ARNs (cpu: COLMAP, gpu: training)."
  value       = { for key, queue in aws_batch_job_queue.this : key => queue.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic of the pipeline's alarms (the api module adds its own)."
  value       = aws_sns_topic.alarms.arn
}
