#!/bin/sh
# patroni-node CONFIG SERVICE REST: run Patroni for one PostgreSQL node and keep its liveness check in Consul passing
# while it lives (SERVICE: the JSON of a service of its own with that TTL check, so that the check going critical
# marks nothing else critical; REST: host:port of Patroni's REST API; CONSUL_HTTP_ADDR and, with ACLs,
# CONSUL_HTTP_TOKEN).
#
# Patroni's leader lock is a Consul session tied to that check, a TTL check of a few seconds this script passes
# every second: while Patroni starts (it wants a session before it serves its REST API), then as long as Patroni's
# /liveness answers. When Patroni dies, or the node freezes (this script with it), the check lapses within seconds,
# Consul invalidates the session and the standby takes the lock: a failover takes a few seconds instead of the 40 s
# a session TTL alone allows. The local cluster and the postgres image both start their nodes through this script.
set -eu
config=$1
check=$2
rest=$3
consul="http://${CONSUL_HTTP_ADDR:-127.0.0.1:8500}"
check_id=$(sed -n 's/.*"CheckID": *"\([^"]*\)".*/\1/p' "$check")
startup_grace=${PATRONI_STARTUP_GRACE_SECONDS:-60}

consul_put() {
    curl -fsS -o /dev/null -m 2 -X PUT ${CONSUL_HTTP_TOKEN:+-H "X-Consul-Token: $CONSUL_HTTP_TOKEN"} "$@"
}

register() {
    consul_put --data @"$check" "$consul/v1/agent/service/register"
}

register || echo "patroni-node: could not register the liveness check; Patroni retries its session meanwhile" >&2
"${PATRONI:-patroni}" "$config" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit $?' TERM INT
started=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    if [ $(( $(date +%s) - started )) -lt "$startup_grace" ] || curl -fsS -o /dev/null -m 1 "http://$rest/liveness"; then
        # an agent that restarted without its state no longer knows the check: register it again
        consul_put "$consul/v1/agent/check/pass/$check_id" || register || true
    fi
    sleep 1
done
wait "$pid"
