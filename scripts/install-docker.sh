#!/usr/bin/env bash
# Docker for the container tests and for DEPLOY=compose|swarm, idempotently:
#  - Debian's docker.io (engine 20.10) and docker-compose 1.29 when missing (root; CI runs as root);
#  - dockerd started when no engine answers (these machines have no systemd: it is started in the background, its
#    log in /var/log/mutiroes-dockerd.log);
#  - the one base image, debian:bookworm-slim, made locally when absent (no registry is reachable here):
#    debootstrap --variant=minbase from the machine's own Debian mirror, then `docker import`. Once per machine
#    (about a minute). Where Docker Hub is reachable, `docker pull debian:bookworm-slim` does the same job.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE_IMAGE=debian:bookworm-slim

need=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${need[*]} (run as root, or: apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "no Docker engine answers; start dockerd (as root) or run this script as root" >&2
        exit 1
    fi
    echo "starting dockerd"
    # the engine outlives this script, so it keeps none of the descriptors this script was given past 0-2: a lock
    # held by whoever runs `make docker` (`flock /tmp/x.lock make docker`) would otherwise stay held by dockerd
    (
        fds=$(ls /proc/$BASHPID/fd)
        for fd in $fds; do
            if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        setsid /usr/sbin/dockerd </dev/null >>/var/log/mutiroes-dockerd.log 2>&1 &
    )
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/mutiroes-dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    mirror=$(bash "$ROOT/scripts/debian-mirror.sh")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "building $BASE_IMAGE with debootstrap from $mirror"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    security=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
        | awk '/^URIs:/ && /security/ {print $2; exit} /^deb / && /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}')
    {
        echo "deb $mirror bookworm main"
        echo "deb $mirror bookworm-updates main"
        [ -z "$security" ] || echo "deb $security bookworm-security main"
    } >"$work/rootfs/etc/apt/sources.list"
    # what the official slim image leaves out
    rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin \
        "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/*
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
        >"$work/rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
    tar -C "$work/rootfs" -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
fi
docker version --format 'docker engine {{.Server.Version}}' 2>/dev/null
docker-compose version --short | sed 's/^/docker-compose /'
