output "repository_urls" {
  description = "Repository URL per image (colmap, train, lambda); push `URL:TAG` there."
  value       = { for key, repo in aws_ecr_repository.this : key => repo.repository_url }
}
