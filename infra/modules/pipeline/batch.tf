# Two queues: CPU instances for COLMAP, single-GPU instances for training. Each tries Spot first and
# falls back to on-demand instances of the same types (Spot G quota is often 0 on a new account), and
# cancels a job left RUNNABLE longer than var.queue_wait_minutes, so that a scene fails with "no GPU
# capacity" instead of waiting for hours.

locals {
  compute = {
    cpu = { types = var.cpu_instance_types, max_vcpus = var.cpu_max_vcpus, image_type = "ECS_AL2023" }
    # AL2023's NVIDIA AMI ships a 580-series driver, which CUDA 13 (the training image, PyPI torch 2.13)
    # needs; ECS_AL2_NVIDIA's 550 series stops at CUDA 12.4 and torch would see no GPU there.
    gpu = { types = var.gpu_instance_types, max_vcpus = var.gpu_max_vcpus, image_type = "ECS_AL2023_NVIDIA" }
  }

  jobs = {
    # timeout: seconds per attempt (3 attempts); the state machine's TimeoutSeconds cover 3 attempts plus
    # the longest queue wait (tests/test_infra.py holds them together)
    colmap = { stage = "sfm", queue = "cpu", vcpus = 8, memory = 15000, gpus = 0, timeout = 7200, env = {} }
    # the training job must not fall back to the CPU of a GPU instance: it fails loudly instead
    train = { stage = "train", queue = "gpu", vcpus = 4, memory = 15000, gpus = 1, timeout = 14400, env = { SPLATLIB_DEVICE = "cuda" } }
  }

  # every (queue, purchase) pair: Spot first, on-demand behind it
  environments = merge([for queue, c in local.compute : {
    for purchase in(var.on_demand_fallback ? ["SPOT", "EC2"] : ["SPOT"]) :
    "${queue}-${lower(purchase)}" => merge(c, { queue = queue, purchase = purchase })
  }]...)
}

resource "aws_launch_template" "batch" {
  name = "${local.name}-batch"
  tags = var.common_tags

  # room for a CUDA image (about 10 GB unpacked) and a scene's frames, model and checkpoints
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.batch_root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1 # jobs get their role from the ECS agent, so containers need no instance metadata
    http_endpoint               = "enabled"
  }
}

resource "aws_batch_compute_environment" "this" {
  for_each                 = local.environments
  compute_environment_name = "${local.name}-${each.key}"
  type                     = "MANAGED"
  service_role             = aws_iam_role.service["batch-service"].arn
  tags                     = var.common_tags

  compute_resources {
    type                = each.value.purchase
    allocation_strategy = each.value.purchase == "SPOT" ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    min_vcpus           = 0
    max_vcpus           = each.value.max_vcpus
    instance_type       = each.value.types
    subnets             = aws_subnet.private[*].id
    security_group_ids  = [aws_security_group.batch.id]
    instance_role       = aws_iam_instance_profile.batch.arn
    tags                = var.common_tags

    launch_template {
      launch_template_id = aws_launch_template.batch.id
      version            = aws_launch_template.batch.latest_version
    }

    ec2_configuration {
      image_type = each.value.image_type
    }
  }

  depends_on = [aws_iam_role_policy_attachment.batch_service]
}

resource "aws_batch_job_queue" "this" {
  for_each = local.compute
  name     = "${local.name}-${each.key}"
  state    = "ENABLED"
  priority = 1
  tags     = var.common_tags

  dynamic "compute_environment_order" {
    for_each = var.on_demand_fallback ? ["spot", "ec2"] : ["spot"]
    content {
      order               = compute_environment_order.key + 1
      compute_environment = aws_batch_compute_environment.this["${each.key}-${compute_environment_order.value}"].arn
    }
  }

  # handlers.handle_failure turns this cancellation into "no GPU capacity in REGION after N minutes"
  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = var.queue_wait_minutes * 60
    reason           = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    state            = "RUNNABLE"
  }
}

resource "aws_batch_job_definition" "this" {
  for_each              = local.jobs
  name                  = "${local.name}-${each.key}"
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true
  tags                  = var.common_tags

  # Spot reclaims are retried (training resumes from its uploaded checkpoint); a stage that
  # failed on its input (exit code 3) or crashed is not.
  retry_strategy {
    attempts = 3
    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }
    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }

  timeout {
    attempt_duration_seconds = each.value.timeout
  }

  container_properties = jsonencode({
    image = var.images[each.key]
    # Batch appends `command` to the image's ENTRYPOINT (python -m splatlib.aws.batch): the stage alone
    command    = [each.value.stage]
    jobRoleArn = aws_iam_role.service["batch-job"].arn
    resourceRequirements = concat(
      [{ type = "VCPU", value = tostring(each.value.vcpus) }, { type = "MEMORY", value = tostring(each.value.memory) }],
      each.value.gpus > 0 ? [{ type = "GPU", value = tostring(each.value.gpus) }] : []
    )
    # Lambda sets AWS_DEFAULT_REGION itself (and refuses it as a reserved key); a Batch container must be told
    environment            = [for k, v in merge(local.stage_env, { AWS_DEFAULT_REGION = local.region }, each.value.env) : { name = k, value = v }]
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration = {
      logDriver = "awslogs"
      options   = { "awslogs-group" = aws_cloudwatch_log_group.batch.name, "awslogs-stream-prefix" = each.key }
    }
  })
}

resource "aws_cloudwatch_log_group" "batch" {
  name              = "/${local.name}/batch"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.common_tags
}
