#!/usr/bin/env bash
# Build the three images and push them to the registry that Terraform made.
# Usage: docker/push.sh TAG   (run from the repository root, after
#        `terraform -chdir=infra/envs/example apply -target=module.registry`)
set -euo pipefail
tag=${1:?usage: docker/push.sh TAG (an exact tag such as the git commit; not latest)}
[ "$tag" != latest ] || { echo "use an exact tag, not latest" >&2; exit 2; }
repos=$(terraform -chdir=infra/envs/example output -json repositories)
registry=$(echo "$repos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lambda"].split("/")[0])')
region=$(echo "$registry" | cut -d. -f4)
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
for image in colmap train lambda; do
  url=$(echo "$repos" | python3 -c "import json,sys; print(json.load(sys.stdin)['$image'])")
  if aws ecr describe-images --region "$region" --repository-name "${url#*/}" --image-ids "imageTag=$tag" \
      >/dev/null 2>&1; then  # tags are immutable: a rerun after a partial failure skips what is pushed
    echo "$url:$tag is already in the registry; skipping"
    continue
  fi
  docker build --platform linux/amd64 --provenance=false -f "docker/$image.Dockerfile" -t "$url:$tag" .
  docker push "$url:$tag"
done
