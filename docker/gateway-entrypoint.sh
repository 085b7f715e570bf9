#!/bin/sh
# gateway-entrypoint serve        nginx (prefix /gateway) plus consul-template in the foreground, which rewrites
#                                 /gateway/upstream.conf from Consul and reloads nginx when it changes
# gateway-entrypoint healthcheck  nginx answers and routes at least one API replica
set -eu
PREFIX=/gateway
case "${1:-serve}" in
    serve)
        ln -sf /dev/stdout "$PREFIX/logs/access.log"
        ln -sf /dev/stderr "$PREFIX/logs/error.log"
        echo "listen ${NGINX_LISTEN:-8080};" >"$PREFIX/listen.conf"
        # the host names answered (any other Host is dropped): localhost, 127.0.0.1 and MUTIROES_SERVER_NAMES
        if [ -n "${MUTIROES_SERVER_NAMES:-}" ]; then
            echo "server_name localhost 127.0.0.1 ${MUTIROES_SERVER_NAMES};" >"$PREFIX/server_names.conf"
        fi
        # the host's own connections reach a container from its network's gateway (the default route)
        {
            echo "127.0.0.1/32 0;"
            if [ "${MUTIROES_GATEWAY_EXEMPT_HOST:-1}" = 1 ]; then
                awk '$2 == "00000000" && $3 != "00000000" {
                    printf "%d.%d.%d.%d/32 0;\n", "0x" substr($3,7,2), "0x" substr($3,5,2), "0x" substr($3,3,2), "0x" substr($3,1,2)
                }' /proc/net/route | sed -n 1p
            fi
        } >"$PREFIX/unlimited.conf"
        # until the first render: no replica yet, so every request gets the 503 JSON answer
        printf 'upstream mutiroes_api {\n    zone mutiroes_api 64k;\n    server 127.0.0.1:9 down;\n}\n' \
            >"$PREFIX/upstream.conf"
        export CONSUL_HTTP_ADDR="${CONSUL_HTTP_ADDR:-consul:8500}"
        if [ -n "${CONSUL_HTTP_TOKEN_FILE:-}" ]; then
            CONSUL_HTTP_TOKEN=$(cat "$CONSUL_HTTP_TOKEN_FILE")
            export CONSUL_HTTP_TOKEN
        fi
        # not exported: nginx reads a variable named NGINX as sockets inherited from an old master
        TEMPLATE_DIR="$PREFIX/consul-template" NGINX_PREFIX="$PREFIX" NGINX=nginx \
            envsubst '${CONSUL_HTTP_ADDR} ${TEMPLATE_DIR} ${NGINX_PREFIX} ${NGINX}' \
            <"$PREFIX/consul-template/consul-template.hcl" >"$PREFIX/consul-template.hcl"
        nginx -p "$PREFIX/" -c "$PREFIX/nginx.conf"
        exec consul-template -config "$PREFIX/consul-template.hcl"
        ;;
    healthcheck)
        curl -fsS -o /dev/null "http://127.0.0.1:${NGINX_LISTEN:-8080}/health" \
            && grep -Eq '^\s*server\s+[^ ;]+\s+max_fails' "$PREFIX/upstream.conf"
        ;;
    *)
        exec "$@"
        ;;
esac
