#!/bin/sh
# redis-entrypoint server: Redis with AOF (fsync every second) and RDB snapshots in /data.
# redis-entrypoint healthcheck: a PING answered with PONG.
set -eu
case "${1:-server}" in
    server)
        shift || true
        exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data \
            --appendonly yes --appendfsync everysec --save "900 1 300 10 60 10000" "$@"
        ;;
    healthcheck)
        [ "$(redis-cli -h 127.0.0.1 ping)" = "PONG" ]
        ;;
    *)
        exec "$@"
        ;;
esac
