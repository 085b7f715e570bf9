#!/bin/sh
# consul-entrypoint agent        the Consul server; with ACLs when CONSUL_MASTER_TOKEN_FILE names a file
# consul-entrypoint healthcheck  a leader is elected (and, with ACLs, the deployment's tokens exist)
#
# ACLs (compose and swarm): default deny, so an anonymous client reads and registers nothing. The master token
# (operators, the UI) also serves as the agent's own token; the deployment's tokens are created once with the
# secret IDs of their files (scripts/stack.sh secrets writes them), each with the least it needs:
#   CONSUL_REGISTER_TOKEN_FILE  API replicas: register and deregister the mutiroes-api service, nothing else
#   CONSUL_PATRONI_TOKEN_FILE   Patroni: its keys and sessions, the mutiroes service, its liveness services
#   CONSUL_READ_TOKEN_FILE      consul-template (gateway) and Prometheus: read services, nodes and health
set -eu
CONFIG=/consul/config
HTTP=http://127.0.0.1:8500

put() { # put PATH JSON: an ACL API call with the master token
    curl -fsS -o /dev/null -m 5 -X PUT -H "X-Consul-Token: $MASTER" --data "$2" "$HTTP$1"
}

has_token() { # the token works (it exists and Consul answers for it)
    curl -fsS -o /dev/null -m 5 -H "X-Consul-Token: $1" "$HTTP/v1/acl/token/self"
}

policy() { # policy NAME RULES: created once (an existing one is left as it is)
    rules=$(printf '%s\n' "$2" | sed 's/"/\\"/g' | awk '{printf "%s\\n", $0}')
    put /v1/acl/policy "{\"Name\": \"$1\", \"Rules\": \"$rules\"}" 2>/dev/null || true
}

token() { # token FILE POLICY DESCRIPTION: created once, retried while the new leader sets its ACLs up
    secret=$(cat "$1")
    tries=0
    until has_token "$secret"; do
        put /v1/acl/token \
            "{\"SecretID\": \"$secret\", \"Description\": \"$3\", \"Policies\": [{\"Name\": \"$2\"}]}" \
            2>/dev/null && return
        tries=$((tries + 1))
        [ "$tries" -lt 120 ] || return 1
        sleep 0.5
    done
}

bootstrap_acls() {
    until curl -fsS -m 2 "$HTTP/v1/status/leader" 2>/dev/null | grep -q ':'; do sleep 0.5; done
    # the new leader initialises the ACL system a moment after its election
    until curl -fsS -o /dev/null -m 2 -H "X-Consul-Token: $MASTER" "$HTTP/v1/acl/policies" 2>/dev/null; do
        sleep 0.5
    done
    policy mutiroes-register 'service "mutiroes-api" { policy = "write" }'
    policy mutiroes-patroni 'key_prefix "service/mutiroes/" { policy = "write" }
service "mutiroes" { policy = "write" }
service "patroni-liveness" { policy = "write" }
session_prefix "" { policy = "write" }
agent_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }'
    policy mutiroes-read 'service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
agent_prefix "" { policy = "read" }'
    [ -z "${CONSUL_REGISTER_TOKEN_FILE:-}" ] || token "$CONSUL_REGISTER_TOKEN_FILE" mutiroes-register "API replicas"
    [ -z "${CONSUL_PATRONI_TOKEN_FILE:-}" ] || token "$CONSUL_PATRONI_TOKEN_FILE" mutiroes-patroni "Patroni nodes"
    [ -z "${CONSUL_READ_TOKEN_FILE:-}" ] || token "$CONSUL_READ_TOKEN_FILE" mutiroes-read "consul-template, Prometheus"
    touch /tmp/acls-ready
    echo "consul-entrypoint: ACL policies and tokens in place"
}

case "${1:-agent}" in
    agent)
        shift || true
        if [ -n "${CONSUL_MASTER_TOKEN_FILE:-}" ]; then
            MASTER=$(cat "$CONSUL_MASTER_TOKEN_FILE")
            umask 077
            cat >"$CONFIG/acl.hcl" <<HCL
acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "extend-cache"
  enable_token_persistence = true
  tokens {
    master = "$MASTER"
    agent  = "$MASTER"
  }
}
HCL
            consul agent -config-dir="$CONFIG" "$@" &
            pid=$!
            trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
            bootstrap_acls || echo "consul-entrypoint: ACL bootstrap failed; restart the container" >&2
            status=0
            while kill -0 "$pid" 2>/dev/null; do
                wait "$pid" && status=0 || status=$?
            done
            exit "$status"
        else
            rm -f "$CONFIG/acl.hcl"
            touch /tmp/acls-ready
            exec consul agent -config-dir="$CONFIG" "$@"
        fi
        ;;
    healthcheck)
        [ -f /tmp/acls-ready ] && curl -fsS -m 2 "$HTTP/v1/status/leader" | grep -q ':'
        ;;
    *)
        exec "$@"
        ;;
esac
