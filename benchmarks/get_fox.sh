#!/usr/bin/env bash
# Fetch the fox capture (50 frames of a handheld phone video, 1080x1920) from NVIDIA's instant-ngp
# repository for the quality ledger's `fox` and `fox-video` scenes. Its licence (NVIDIA Source Code
# License, non-commercial) does not let the project ship it, so it is fetched, not committed.
# Usage: benchmarks/get_fox.sh [DEST]   (default ../shared/data/fox; needs git and network;
# FOX_REPO names another clone of the repository)
set -euo pipefail
dest="${1:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data/fox}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --depth 1 --filter=blob:none --sparse "${FOX_REPO:-https://github.com/NVlabs/instant-ngp}" "$tmp/repo"
git -C "$tmp/repo" sparse-checkout set data/nerf/fox/images
mkdir -p "$dest/images"
cp "$tmp/repo/data/nerf/fox/images/"*.jpg "$dest/images/"
cp "$tmp/repo/LICENSE.txt" "$dest/LICENSE.txt"
echo "$(ls "$dest/images" | wc -l) images in $dest/images"
