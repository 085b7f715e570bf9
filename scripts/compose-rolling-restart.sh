#!/usr/bin/env bash
# Rolling restart of the compose `backend` replicas: one at a time, each drains on SIGTERM (readiness 503,
# deregistration, consul-template's reload) and must be healthy again before the next one goes.
set -euo pipefail
COMPOSE=${COMPOSE:-docker compose -f docker-compose.distributed.yml}
for id in $($COMPOSE ps -q backend); do
    echo "restarting $id"
    docker restart -t 60 "$id" >/dev/null
    for _ in $(seq 1 60); do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && break
        sleep 2
    done
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || { echo "$id did not become healthy" >&2; exit 1; }
    sleep 5 # Consul's next check (5 s) puts it back behind nginx
done
