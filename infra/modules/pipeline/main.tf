# The pipeline: ExtractFrames (Lambda) -> RunCOLMAP (Batch, CPU Spot) -> Run3DGS (Batch, GPU Spot)
# -> ConvertAndNotify (Lambda); any failure -> HandleFailure (Lambda). The same stage code as the
# local runner (splatlib.pipeline), through the adapters in splatlib.aws.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  stage_env = {
    ASSETS_BUCKET      = var.assets_bucket
    SCENES_TABLE       = var.scenes_table
    NUMBA_CACHE_DIR    = "/tmp/numba"
    QUEUE_WAIT_MINUTES = tostring(var.queue_wait_minutes) # for the "no capacity" message
  }
}
