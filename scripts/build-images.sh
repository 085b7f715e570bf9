#!/usr/bin/env bash
# Build every image of the compose/swarm topology from our Dockerfiles: scripts/build-images.sh [TAG] [IMAGE...]
#   TAG defaults to MUTIROES_IMAGE_TAG or "latest"; IMAGE is any of app gateway consul postgres redis prometheus.
# The base image debian:bookworm-slim must exist (scripts/install-docker.sh makes it here; elsewhere docker pull).
# The machine's CA bundle is handed to the build stages only (docker/build-certs/), so pip and Go reach their
# registries through whatever TLS this machine trusts; no final image contains it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=${1:-${MUTIROES_IMAGE_TAG:-latest}}
shift || true
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(consul postgres redis gateway prometheus app)
cd "$ROOT"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt docker/build-certs/ca-certificates.crt
fi
for name in "${IMAGES[@]}"; do
    started=$(date +%s)
    docker build --quiet -f "docker/$name.Dockerfile" -t "mutiroes-$name:$TAG" . >/dev/null
    echo "mutiroes-$name:$TAG built in $(( $(date +%s) - started )) s"
done
