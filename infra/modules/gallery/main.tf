# The gallery in the browser: its static pages in a private bucket behind CloudFront (origin access
# control), and the Cognito user pool whose tokens the HTTP API's JWT authorizer accepts.

data "aws_caller_identity" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  # AWS's managed policies, the same ids in every account: "CachingOptimized", and
  # "SecurityHeadersPolicy" (HSTS for a year, nosniff, SAMEORIGIN frames, strict-origin referrers)
  caching_optimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  security_headers  = "67f7725c-6f97-4210-82d7-5512b31e9d03"
}

# ---- pages -------------------------------------------------------------------------------------
module "site" {
  source        = "../private_bucket"
  name          = "${local.name}-site-${data.aws_caller_identity.current.account_id}"
  common_tags   = var.common_tags
  force_destroy = var.force_destroy
  kms_key_arn   = null # public pages (HTML, JavaScript): SSE-S3, which CloudFront reads without a key grant
  policy_statements = [{
    Sid       = "CloudFrontReads"
    Effect    = "Allow"
    Principal = { Service = "cloudfront.amazonaws.com" }
    Action    = "s3:GetObject"
    Resource  = "${module.site.arn}/*"
    Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.site.arn } }
  }]
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${local.name}-site"
  description                       = "CloudFront signs its requests to the private site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_86:the pages are static and public; who signed in is in the API's access log
  #checkov:skip=CKV_AWS_68:the pages are static files; the API they call is throttled at API Gateway and needs a Cognito token
  #checkov:skip=CKV2_AWS_47:no WAF (see CKV_AWS_68); nothing behind CloudFront runs Java
  #checkov:skip=CKV_AWS_174:the default *.cloudfront.net certificate fixes the TLS policy; set a custom domain and certificate for TLSv1.2_2021
  #checkov:skip=CKV2_AWS_42:as CKV_AWS_174: a custom certificate needs a domain the module cannot assume
  #checkov:skip=CKV_AWS_310:one origin: a second region's copy of static pages is not worth its cost here
  #checkov:skip=CKV_AWS_374:the gallery is not limited by country
  #checkov:skip=CKV2_AWS_32:it has one, AWS's managed SecurityHeadersPolicy by id (local.security_headers); checkov looks for a policy resource
  enabled             = true
  comment             = "${local.name} gallery"
  default_root_object = "index.html"
  price_class         = var.price_class
  http_version        = "http2and3"
  tags                = var.common_tags

  origin {
    origin_id                = "site"
    domain_name              = module.site.regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  default_cache_behavior {
    target_origin_id           = "site"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized
    response_headers_policy_id = local.security_headers
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

# ---- who may use it ----------------------------------------------------------------------------
resource "aws_cognito_user_pool" "users" {
  name                     = "${local.name}-users"
  deletion_protection      = var.force_destroy ? "INACTIVE" : "ACTIVE"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"
  tags                     = var.common_tags

  admin_create_user_config {
    allow_admin_create_user_only = true # an administrator invites each user (README: "the first user")
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 7
  }

  software_token_mfa_configuration {
    enabled = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "gallery" {
  name         = "${local.name}-gallery"
  user_pool_id = aws_cognito_user_pool.users.id
  # the browser signs in with USER_PASSWORD_AUTH over TLS to Cognito's endpoint, and refreshes
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  id_token_validity             = var.token_validity_minutes
  access_token_validity         = var.token_validity_minutes
  refresh_token_validity        = 30
  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "days"
  }
}
