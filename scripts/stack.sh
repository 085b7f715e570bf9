#!/usr/bin/env bash
# The container deployments' operations, one set of verbs for Compose and Swarm (the Makefile calls this with
# DEPLOY=compose|swarm; the local cluster has the same verbs in `python -m cluster`):
#
#   scripts/stack.sh MODE VERB [ARGS]      MODE: compose | swarm
#   secrets | build | up | down | status | health | logs [SERVICE] | info | mail
#   scale-backends N | scale-workers N | restart-backends | migrate | populate | createsuperuser USER EMAIL
#   backup-db FILE | restore-db FILE | fail TARGET (db-primary | redis-master | replica | worker)
#
# Settings (environment, or .env): MUTIROES_STACK (project/stack name, default mutiroes), MUTIROES_IMAGE_TAG,
# MUTIROES_SECRETS_DIR, MUTIROES_HTTP_PORT, MUTIROES_CONSUL_PORT, MUTIROES_PROMETHEUS_PORT, MUTIROES_BACKENDS,
# MUTIROES_WORKERS, MUTIROES_UP_TIMEOUT (seconds `up` waits for every service to be healthy, default 300),
# PURGE=1 (down also deletes the volumes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:?usage: scripts/stack.sh compose|swarm VERB [ARGS]}
VERB=${2:?usage: scripts/stack.sh compose|swarm VERB [ARGS]}
shift 2
if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi
export MUTIROES_STACK=${MUTIROES_STACK:-mutiroes}
export MUTIROES_IMAGE_TAG=${MUTIROES_IMAGE_TAG:-latest}
export MUTIROES_SECRETS_DIR=${MUTIROES_SECRETS_DIR:-$ROOT/.secrets}
export MUTIROES_BACKENDS=${MUTIROES_BACKENDS:-3}
export MUTIROES_WORKERS=${MUTIROES_WORKERS:-2}
FILE=$ROOT/docker-compose.distributed.yml
NAME=$MUTIROES_STACK

case "$MODE" in
    compose) ;;
    swarm) ;;
    *) echo "unknown mode $MODE (compose or swarm)" >&2; exit 2 ;;
esac

compose() {
    if command -v docker-compose >/dev/null 2>&1; then
        docker-compose -p "$NAME" -f "$FILE" "$@"
    else
        docker compose -p "$NAME" -f "$FILE" "$@"
    fi
}

# the containers of a service, in either mode, found by the labels each engine puts on them
containers() {
    if [ "$MODE" = compose ]; then
        docker ps -q --filter "label=com.docker.compose.project=$NAME" --filter "label=com.docker.compose.service=$1"
    else
        docker ps -q --filter "label=com.docker.swarm.service.name=${NAME}_$1"
    fi
}

one_container() {
    local id
    id=$(containers "$1" | head -n 1)
    [ -n "$id" ] || { echo "no running container of $1" >&2; exit 1; }
    echo "$id"
}

random_secret() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(48), end="")'
}

random_uuid() { # Consul wants its tokens' secret IDs as UUIDs
    python3 -c 'import uuid; print(uuid.uuid4(), end="")'
}

ensure_secrets() {
    local dir=$MUTIROES_SECRETS_DIR
    mkdir -p "$dir"
    chmod 0700 "$dir"
    umask 022 # readable by the containers' users; the folder keeps everyone else out
    [ -s "$dir/mutiroes_secret_key" ] || printf '%s' "${MUTIROES_SECRET_KEY:-$(random_secret)}" >"$dir/mutiroes_secret_key"
    if [ ! -s "$dir/postgres_password" ]; then
        printf '%s' "${POSTGRES_PASSWORD:-$(random_secret)}" >"$dir/postgres_password"
    fi
    # only read when MUTIROES_SMTP_USER is set; random otherwise (a Swarm secret cannot be empty)
    [ -s "$dir/smtp_password" ] || printf '%s' "${MUTIROES_SMTP_PASSWORD:-$(random_secret)}" >"$dir/smtp_password"
    local name
    for name in postgres_replication_password redis_password; do
        [ -s "$dir/$name" ] || random_secret >"$dir/$name"
    done
    for name in consul_master_token consul_register_token consul_patroni_token consul_read_token; do
        [ -s "$dir/$name" ] || random_uuid >"$dir/$name"
    done
    local password
    password=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""), end="")' "$dir/postgres_password")
    # both Patroni nodes; libpq keeps the one that accepts writes, so a failover needs no change here
    printf 'postgresql+psycopg2://mutiroes:%s@/mutiroes?host=pg-1:5432&host=pg-2:5432&target_session_attrs=read-write' \
        "$password" >"$dir/mutiroes_database_url"
}

ensure_swarm() {
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
        echo "initialising a one-node swarm (docker swarm init)"
        docker swarm init --advertise-addr "${MUTIROES_SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
    fi
}

SERVICES="consul pg-1 pg-2 redis-1 redis-2 sentinel-1 sentinel-2 sentinel-3 gateway backend worker scheduler smtp-sink prometheus"
PG_NODES="pg-1 pg-2"
SENTINEL_NODES="sentinel-1 sentinel-2 sentinel-3"

# every container of the stack healthy (or, for the one-shot, exited 0), within MUTIROES_UP_TIMEOUT seconds
wait_healthy() {
    local deadline=$(( $(date +%s) + ${MUTIROES_UP_TIMEOUT:-300} )) pending
    while :; do
        pending=$(unhealthy)
        [ -z "$pending" ] && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "not healthy after ${MUTIROES_UP_TIMEOUT:-300} s: $pending" >&2
            return 1
        fi
        sleep 2
    done
}

expected_count() {
    case "$1" in
        backend) echo "$MUTIROES_BACKENDS" ;;
        worker) echo "$MUTIROES_WORKERS" ;;
        migrate) echo 0 ;;
        *) echo 1 ;;
    esac
}

unhealthy() {
    local service ids id state count
    for service in $SERVICES; do
        ids=$(containers "$service")
        count=$(echo "$ids" | grep -c . || true)
        if [ "$count" -lt "$(expected_count "$service")" ]; then
            printf '%s(%s of %s) ' "$service" "$count" "$(expected_count "$service")"
            continue
        fi
        for id in $ids; do
            state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
            [ "$state" = healthy ] || printf '%s(%s) ' "$service" "$state"
        done
    done
    migrate_state
}

migrate_state() {
    if [ "$MODE" = compose ]; then
        local id
        id=$(docker ps -aq --filter "label=com.docker.compose.project=$NAME" --filter "label=com.docker.compose.service=migrate" | head -n 1)
        [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id")" = "exited 0" ] \
            || printf 'migrate(not done) '
    else
        docker service ps "${NAME}_migrate" --format '{{.CurrentState}}' 2>/dev/null | grep -q '^Complete' \
            || printf 'migrate(not done) '
    fi
}

consul_api() { # with the read token: ACLs deny anonymous reads
    docker exec "$(one_container consul)" sh -c \
        'curl -fsS -H "X-Consul-Token: $(cat /run/secrets/consul_read_token)" "http://127.0.0.1:8500$0"' "$1"
}

# Patroni's view of the pair (GET /cluster of any node that answers)
patroni_cluster() {
    local node id
    for node in $PG_NODES; do
        id=$(containers "$node" | head -n 1)
        [ -n "$id" ] || continue
        docker exec "$id" curl -fsS -m 2 http://127.0.0.1:8008/cluster 2>/dev/null && return 0
    done
    return 1
}

pg_leader() { # the node holding the leader lock, e.g. pg-1 (empty while there is none)
    patroni_cluster | python3 -c '
import json, sys
print(next((m["name"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader" and m["state"] == "running"), ""))' \
        2>/dev/null || true
}

redis_master() { # the node the Sentinels name as master, e.g. redis-2
    local node id
    for node in $SENTINEL_NODES; do
        id=$(containers "$node" | head -n 1)
        [ -n "$id" ] || continue
        docker exec "$id" sh -c 'REDISCLI_AUTH=$(cat /run/secrets/redis_password) timeout 2 redis-cli -p 26379 --raw \
            sentinel get-master-addr-by-name mutiroes | head -n 1' 2>/dev/null | grep . && return 0
    done
    return 1
}

wait_until() { # wait_until SECONDS COMMAND...: until COMMAND succeeds; prints the seconds it took, or fails
    local timeout=$1 started now
    shift
    started=$(date +%s%N)
    until "$@" >/dev/null 2>&1; do
        now=$(date +%s%N)
        (( (now - started) / 1000000000 < timeout )) || return 1
        sleep 0.5
    done
    now=$(date +%s%N)
    printf '%d.%d' $(( (now - started) / 1000000000 )) $(( (now - started) / 100000000 % 10 ))
}

replica_of_master() { # the node answers as a replica of the current master, its link up
    local id
    id=$(containers "$1" | head -n 1)
    [ -n "$id" ] && docker exec "$id" sh -c 'REDISCLI_AUTH=$(cat /run/secrets/redis_password) timeout 2 redis-cli info replication' \
        | tr -d '\r' | grep -qx 'master_link_status:up'
}

leader_is_not() { local now; now=$(pg_leader); [ -n "$now" ] && [ "$now" != "$1" ]; }
master_is_not() { local now; now=$(redis_master); [ -n "$now" ] && [ "$now" != "$1" ]; }
synced_standby() { # the node is the synchronous standby again, streaming
    patroni_cluster | python3 -c '
import json, sys
ok = any(m["name"] == sys.argv[1] and m["role"] == "sync_standby" and m["state"] == "streaming"
         for m in json.load(sys.stdin)["members"])
sys.exit(0 if ok else 1)' "$1"
}

# kill -9 every process of a container, as a crash would; `docker kill` also counts as an operator's stop, so the
# restart policy leaves it down until `docker start` (swarm replaces the task instead)
kill_container() {
    docker kill -s KILL "$1" >/dev/null
}

# a node that died stays down until its peer took over (a machine that crashed does not come back at once), then
# comes back as it would after a reboot
bring_back() {
    if [ "$MODE" = compose ]; then
        docker start "$1" >/dev/null
    fi
}

fail() {
    local target=${1:?TARGET: db-primary, redis-master, replica or worker} node id took
    case "$target" in
        db-primary)
            node=$(pg_leader)
            [ -n "$node" ] || { echo "no PostgreSQL primary right now" >&2; exit 1; }
            id=$(one_container "$node")
            kill_container "$id"
            took=$(wait_until 60 leader_is_not "$node") || { bring_back "$id"; echo "no new primary within 60 s" >&2; exit 1; }
            echo "killed $node (the primary); $(pg_leader) is the primary after $took s"
            bring_back "$id"
            took=$(wait_until 120 synced_standby "$node") \
                || { echo "$node did not rejoin as synchronous standby within 120 s" >&2; exit 1; }
            echo "$node is the synchronous standby again after $took s more"
            ;;
        redis-master)
            node=$(redis_master) || { echo "no Sentinel answers" >&2; exit 1; }
            id=$(one_container "$node")
            kill_container "$id"
            took=$(wait_until 60 master_is_not "$node") || { bring_back "$id"; echo "no new master within 60 s" >&2; exit 1; }
            echo "killed $node (the master); the Sentinels promoted $(redis_master) after $took s"
            bring_back "$id"
            took=$(wait_until 120 replica_of_master "$node") \
                || { echo "$node did not rejoin as a replica within 120 s" >&2; exit 1; }
            echo "$node replicates the new master after $took s more"
            ;;
        replica)
            id=$(one_container backend)
            kill_container "$id"
            echo "killed backend container ${id:0:12}: it stays down as a crashed replica would (swarm starts another task)"
            ;;
        worker)
            id=$(one_container worker)
            # the process dies, not the container's configuration: the restart policy starts it again
            docker exec "$id" sh -c 'kill -KILL -1' 2>/dev/null || kill_container "$id"
            echo "killed the processes of worker container ${id:0:12}; the restart policy starts it again"
            ;;
        *)
            echo "unknown target $target: db-primary, redis-master, replica or worker" >&2
            exit 2
            ;;
    esac
}

case "$VERB" in
    secrets)
        ensure_secrets
        echo "secrets in $MUTIROES_SECRETS_DIR"
        ;;
    build)
        bash scripts/install-docker.sh >/dev/null
        bash scripts/build-images.sh "$MUTIROES_IMAGE_TAG"
        ;;
    up)
        ensure_secrets
        started=$(date +%s)
        if [ "$MODE" = compose ]; then
            compose up -d --no-build --remove-orphans --scale backend="$MUTIROES_BACKENDS" --scale worker="$MUTIROES_WORKERS"
        else
            ensure_swarm
            docker stack deploy --prune -c "$FILE" -c "$ROOT/docker/swarm-ports.yml" "$NAME" >/dev/null
        fi
        wait_healthy
        echo "$MODE stack $NAME healthy in $(( $(date +%s) - started )) s"
        ;;
    down)
        if [ "$MODE" = compose ]; then
            compose down --remove-orphans ${PURGE:+--volumes} -t 60
        else
            docker stack rm "$NAME" >/dev/null 2>&1 || true
            for _ in $(seq 1 60); do
                [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$NAME")" ] \
                    && ! docker network inspect "${NAME}_mutiroes" >/dev/null 2>&1 && break
                sleep 1
            done
            if [ -n "${PURGE:-}" ]; then
                docker volume ls -q --filter "label=com.docker.stack.namespace=$NAME" | xargs -r docker volume rm >/dev/null
                docker secret ls -q --filter "label=com.docker.stack.namespace=$NAME" | xargs -r docker secret rm >/dev/null
            fi
        fi
        ;;
    status)
        if [ "$MODE" = compose ]; then compose ps; else docker stack services "$NAME"; fi
        echo "--- Consul: API replicas (address:port status)"
        consul_api "/v1/health/service/mutiroes-api" | python3 -c '
import json, sys
for entry in json.load(sys.stdin):
    statuses = {check["Status"] for check in entry["Checks"]}
    status = "passing" if statuses == {"passing"} else ("critical" if "critical" in statuses else "warning")
    service = entry["Service"]
    print("%s:%s %s" % (service["Address"], service["Port"], status))'
        echo "--- gateway upstream"
        docker exec "$(one_container gateway)" cat /gateway/upstream.conf | grep -E '^\s*server ' || true
        echo "--- PostgreSQL (Patroni): leader $(pg_leader || true)"
        patroni_cluster | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    print("%-6s %-13s %-10s timeline %s lag %s" % (m["name"], m["role"], m["state"], m.get("timeline", "-"), m.get("lag", 0)))' \
            || echo "no Patroni node answers"
        echo "--- Redis: master $(redis_master || echo "unknown (no Sentinel answers)")"
        ;;
    fail)
        fail "$@"
        ;;
    health)
        docker exec "$(one_container gateway)" curl -fsS http://127.0.0.1:8080/health
        docker exec "$(one_container gateway)" curl -fsS http://127.0.0.1:8080/health/
        echo
        ;;
    logs)
        service=${1:-gateway}
        if [ "$MODE" = compose ]; then compose logs --tail=100 "$service"; else docker service logs --tail 100 "${NAME}_$service"; fi
        ;;
    info)
        echo "API (gateway):  http://127.0.0.1:${MUTIROES_HTTP_PORT:-8080}/api/   docs: http://127.0.0.1:${MUTIROES_HTTP_PORT:-8080}/api/docs/"
        echo "Consul UI:      http://127.0.0.1:${MUTIROES_CONSUL_PORT:-8500}/ui/"
        echo "Prometheus:     http://127.0.0.1:${MUTIROES_PROMETHEUS_PORT:-9090}/"
        echo "rq-dashboard:   http://127.0.0.1:${MUTIROES_HTTP_PORT:-8080}/rq/ (staff credentials)"
        echo "emails (sink):  scripts/stack.sh $MODE mail"
        ;;
    mail)
        docker exec "$(one_container smtp-sink)" sh -c 'ls -1 /app/mail | tail -n 20'
        ;;
    scale-backends|scale-workers)
        n=${1:?N}
        service=${VERB#scale-}
        service=${service%s}
        if [ "$MODE" = compose ]; then
            compose up -d --no-build --no-recreate --no-deps --scale "$service=$n" "$service"
        else
            docker service scale --detach=true "${NAME}_$service=$n" >/dev/null
            # until n tasks run (Consul's check then routes each one within seconds; `status` shows it)
            for _ in $(seq 1 120); do
                [ "$(containers "$service" | grep -c .)" -eq "$n" ] && break
                sleep 1
            done
        fi
        ;;
    restart-backends)
        if [ "$MODE" = swarm ]; then
            # start-first, one task at a time, rolled back on failure (deploy.update_config)
            docker service update --detach=false --force "${NAME}_backend" >/dev/null
        else
            for id in $(containers backend); do
                # stop drains (readiness 503, Consul, nginx) for up to 60 s; start brings the same container back
                docker stop -t 60 "$id" >/dev/null
                docker start "$id" >/dev/null
                for _ in $(seq 1 90); do
                    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && break
                    sleep 1
                done
                [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] \
                    || { echo "$id did not become healthy" >&2; exit 1; }
                sleep 6 # Consul's next check (every 5 s) passes it and consul-template puts it back in nginx
            done
        fi
        ;;
    migrate)
        if [ "$MODE" = compose ]; then
            compose run --rm --no-deps migrate
        else
            docker service update --detach=false --force "${NAME}_migrate" >/dev/null
        fi
        ;;
    populate)
        docker exec "$(one_container backend)" sh -c 'mutiroes seed && mutiroes seed-demo --force'
        ;;
    createsuperuser)
        docker exec -it "$(one_container backend)" mutiroes createsuperuser --username "${1:?USERNAME}" --email "${2:?EMAIL}"
        ;;
    backup-db)
        file=${1:?FILE}
        leader=$(pg_leader)
        [ -n "$leader" ] || { echo "no PostgreSQL primary right now" >&2; exit 1; }
        docker exec "$(one_container "$leader")" pg_dump -h /var/run/postgresql -U mutiroes -Fc mutiroes >"$file"
        echo "backup written to $file ($(wc -c <"$file") bytes)"
        ;;
    restore-db)
        file=${1:?FILE}
        leader=$(pg_leader)
        [ -n "$leader" ] || { echo "no PostgreSQL primary right now" >&2; exit 1; }
        docker exec -i "$(one_container "$leader")" pg-restore <"$file"
        echo "restored $file"
        ;;
    *)
        echo "unknown verb $VERB" >&2
        exit 2
        ;;
esac
