output "endpoint" {
  description = "Base URL of the HTTP API (requests are signed with SigV4, service execute-api)."
  value       = aws_apigatewayv2_api.http.api_endpoint
}
