# A VPC for the Batch instances: private subnets in several zones, NAT for ECR and AWS APIs,
# gateway endpoints so that S3 and DynamoDB traffic stays off the NAT, flow logs, no ingress.

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  azs      = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  nat_azs  = var.nat_per_az ? var.az_count : 1
  vpc_name = "${local.name}-vpc"
}

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags                 = merge(var.common_tags, { Name = local.vpc_name })
}

resource "aws_default_security_group" "main" {
  vpc_id = aws_vpc.main.id # no rules: nothing may use the default group
  tags   = var.common_tags
}

resource "aws_subnet" "private" {
  count             = var.az_count
  vpc_id            = aws_vpc.main.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  availability_zone = local.azs[count.index]
  tags              = merge(var.common_tags, { Name = "${local.name}-private-${local.azs[count.index]}" })
}

resource "aws_subnet" "public" {
  count             = var.az_count
  vpc_id            = aws_vpc.main.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 200 + count.index)
  availability_zone = local.azs[count.index]
  tags              = merge(var.common_tags, { Name = "${local.name}-public-${local.azs[count.index]}" })
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = var.common_tags
}

resource "aws_eip" "nat" {
  count  = local.nat_azs
  domain = "vpc"
  tags   = var.common_tags
}

resource "aws_nat_gateway" "main" {
  count         = local.nat_azs
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = merge(var.common_tags, { Name = "${local.name}-nat-${local.azs[count.index]}" })
  depends_on    = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags   = merge(var.common_tags, { Name = "${local.name}-public" })
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "public" {
  count          = var.az_count
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count  = var.az_count
  vpc_id = aws_vpc.main.id
  tags   = merge(var.common_tags, { Name = "${local.name}-private-${local.azs[count.index]}" })
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main[var.nat_per_az ? count.index : 0].id
  }
}

resource "aws_route_table_association" "private" {
  count          = var.az_count
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_vpc_endpoint" "gateway" {
  for_each          = toset(["s3", "dynamodb"])
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  tags              = merge(var.common_tags, { Name = "${local.name}-${each.key}" })
}

# Batch instances need no inbound traffic; outbound only HTTPS (ECR, S3, DynamoDB, CloudWatch, STS).
resource "aws_security_group" "batch" {
  name        = "${local.name}-batch"
  description = "Batch instances: no ingress, HTTPS egress"
  vpc_id      = aws_vpc.main.id
  tags        = var.common_tags

  egress {
    description = "HTTPS to AWS APIs and the registry"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/${local.name}/vpc-flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.common_tags
}

resource "aws_flow_log" "main" {
  vpc_id          = aws_vpc.main.id
  traffic_type    = "REJECT"
  log_destination = aws_cloudwatch_log_group.flow.arn
  iam_role_arn    = aws_iam_role.service["flow-logs"].arn
  tags            = var.common_tags
}
