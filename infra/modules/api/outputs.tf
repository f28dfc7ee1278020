output "endpoint" {
  description = "Base URL of the HTTP API for scripts (requests are signed with SigV4, service execute-api)."
  value       = aws_apigatewayv2_api.http["scripts"].api_endpoint
}

output "browser_endpoint" {
  description = "Base URL of the HTTP API for the gallery (a Cognito ID token as the bearer), or null without the gallery."
  value       = try(aws_apigatewayv2_api.http["browser"].api_endpoint, null)
}
