# state of deployments made before the shared private_bucket module: the assets bucket keeps its resources
moved {
  from = aws_s3_bucket.assets
  to   = module.assets.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.assets
  to   = module.assets.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.assets
  to   = module.assets.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.assets
  to   = module.assets.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.assets
  to   = module.assets.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.assets
  to   = module.assets.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.assets
  to   = module.assets.aws_s3_bucket_policy.this
}
