# ---- state of deployments made before the browser API: the scripts' API keeps its resources ----
moved {
  from = aws_apigatewayv2_api.http
  to   = aws_apigatewayv2_api.http["scripts"]
}

moved {
  from = aws_apigatewayv2_integration.api
  to   = aws_apigatewayv2_integration.api["scripts"]
}

moved {
  from = aws_apigatewayv2_stage.default
  to   = aws_apigatewayv2_stage.default["scripts"]
}

moved {
  from = aws_cloudwatch_log_group.access
  to   = aws_cloudwatch_log_group.access["scripts"]
}

moved {
  from = aws_lambda_permission.api
  to   = aws_lambda_permission.api["scripts"]
}

moved {
  from = aws_apigatewayv2_route.this["POST /api/scenes"]
  to   = aws_apigatewayv2_route.this["scripts POST /api/scenes"]
}

moved {
  from = aws_apigatewayv2_route.this["GET /api/scenes"]
  to   = aws_apigatewayv2_route.this["scripts GET /api/scenes"]
}

moved {
  from = aws_apigatewayv2_route.this["GET /api/scenes/{id}"]
  to   = aws_apigatewayv2_route.this["scripts GET /api/scenes/{id}"]
}

moved {
  from = aws_apigatewayv2_route.this["POST /api/scenes/{id}/retry"]
  to   = aws_apigatewayv2_route.this["scripts POST /api/scenes/{id}/retry"]
}

moved {
  from = aws_apigatewayv2_route.this["DELETE /api/scenes/{id}"]
  to   = aws_apigatewayv2_route.this["scripts DELETE /api/scenes/{id}"]
}

moved {
  from = aws_apigatewayv2_route.this["GET /api/openapi.json"]
  to   = aws_apigatewayv2_route.this["scripts GET /api/openapi.json"]
}
