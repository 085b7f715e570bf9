#!/bin/sh
# redis-entrypoint server       Redis (AOF fsync every second + RDB snapshots in /data), as the master or a replica
# redis-entrypoint sentinel     a Sentinel watching the master named REDIS_MASTER_NAME
# redis-entrypoint healthcheck  the server (or Sentinel) answers PING
#
# REDIS_PASSWORD_FILE (or REDIS_PASSWORD): requirepass of servers and Sentinels, masterauth of replicas.
# REDIS_SENTINELS (host:port,...) and REDIS_ANNOUNCE_HOST (this node's name on the network, e.g. redis-2) make it one
# node of the Sentinel tier: at start it asks the Sentinels which node is the master now, so a node that comes back
# after a failover (or a fresh container of it) rejoins as a replica of the new master rather than as a second
# master; when no Sentinel answers yet (the first start) REDIS_INITIAL_MASTER is the master. Names, not addresses,
# are announced and resolved, so a container that restarts with another address is still the same node.
set -eu
MASTER_NAME=${REDIS_MASTER_NAME:-mutiroes}
ME=${REDIS_ANNOUNCE_HOST:-$(hostname)}

password() {
    if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
        cat "$REDIS_PASSWORD_FILE"
    else
        printf '%s' "${REDIS_PASSWORD:-}"
    fi
}

PASSWORD=$(password)
export REDISCLI_AUTH="$PASSWORD"

# the master most Sentinels name right now (empty when none answers)
sentinels_master() {
    for sentinel in $(echo "${REDIS_SENTINELS:-}" | tr ',' ' '); do
        timeout 2 redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" --raw \
            sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1
    done | grep -v '^$' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}'
}

# a server that says it is a master with replicas (a Sentinel starting while its peers are down)
servers_master() {
    for node in $(echo "${REDIS_NODES:-}" | tr ',' ' '); do
        if timeout 2 redis-cli -h "$node" role 2>/dev/null | head -n 1 | grep -qx master; then
            echo "$node"
            return
        fi
    done
}

case "${1:-server}" in
    server)
        shift || true
        set -- --bind 0.0.0.0 --protected-mode no --dir /data \
            --appendonly yes --appendfsync everysec --save "900 1 300 10 60 10000" "$@"
        if [ -n "$PASSWORD" ]; then
            set -- "$@" --requirepass "$PASSWORD" --masterauth "$PASSWORD"
        fi
        if [ -n "${REDIS_SENTINELS:-}" ]; then
            # A node that has data was part of the set: it waits for the Sentinels to name the master rather than
            # come back as a master of its own (clients still connected to it would push jobs there that the
            # Sentinels then wipe by making it a replica). Only a first start takes REDIS_INITIAL_MASTER at once.
            master=""
            for _ in $(seq 1 "${REDIS_SENTINEL_WAIT_SECONDS:-30}"); do
                master=$(sentinels_master || true)
                [ -n "$master" ] && break
                [ -e /data/appendonlydir ] || [ -e /data/dump.rdb ] || break
                sleep 1
            done
            master=${master:-${REDIS_INITIAL_MASTER:-$ME}}
            set -- "$@" --replica-announce-ip "$ME"
            if [ "$master" != "$ME" ]; then
                echo "redis-entrypoint: $ME starts as a replica of $master"
                set -- "$@" --replicaof "$master" 6379
            fi
        fi
        echo server >/tmp/redis-role
        exec redis-server "$@"
        ;;
    sentinel)
        shift || true
        master=$(sentinels_master || true)
        [ -n "$master" ] || master=$(servers_master || true)
        master=${master:-${REDIS_INITIAL_MASTER:-redis-1}}
        config=/data/sentinel.conf
        {
            echo "port 26379"
            echo "bind 0.0.0.0"
            echo "protected-mode no"
            echo "dir /data"
            echo "sentinel resolve-hostnames yes"
            echo "sentinel announce-hostnames yes"
            echo "sentinel announce-ip $ME"
            [ -z "$PASSWORD" ] || echo "requirepass $PASSWORD"
            echo "sentinel monitor $MASTER_NAME $master 6379 ${REDIS_SENTINEL_QUORUM:-2}"
            [ -z "$PASSWORD" ] || echo "sentinel auth-pass $MASTER_NAME $PASSWORD"
            echo "sentinel down-after-milliseconds $MASTER_NAME ${REDIS_DOWN_AFTER_MS:-3000}"
            echo "sentinel failover-timeout $MASTER_NAME ${REDIS_FAILOVER_TIMEOUT_MS:-10000}"
            echo "sentinel parallel-syncs $MASTER_NAME 1"
        } >"$config"
        echo "redis-entrypoint: sentinel $ME watches $master"
        echo sentinel >/tmp/redis-role
        exec redis-sentinel "$config" "$@"
        ;;
    healthcheck)
        port=6379
        [ "$(cat /tmp/redis-role 2>/dev/null)" != sentinel ] || port=26379
        [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping)" = "PONG" ]
        ;;
    *)
        exec "$@"
        ;;
esac
