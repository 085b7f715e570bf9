#!/bin/sh
# The gateway container: nginx (its prefix is /etc/nginx) plus consul-template in the foreground, which rewrites
# /etc/nginx/upstream.conf from Consul and reloads nginx when it changes.
set -eu
PREFIX=/etc/nginx
mkdir -p "$PREFIX/logs" "$PREFIX/run" "$PREFIX/tmp"
ln -sf /dev/stdout "$PREFIX/logs/access.log"
ln -sf /dev/stderr "$PREFIX/logs/error.log"
echo "listen ${NGINX_LISTEN:-80};" >"$PREFIX/listen.conf"
# until the first render: no replica yet, so every request gets the 503 JSON answer
printf 'upstream mutiroes_api {\n    zone mutiroes_api 64k;\n    server 127.0.0.1:9 down;\n}\n' >"$PREFIX/upstream.conf"
export CONSUL_HTTP_ADDR="${CONSUL_HTTP_ADDR:-consul:8500}" TEMPLATE_DIR=/etc/consul-template NGINX_PREFIX="$PREFIX" NGINX=nginx
envsubst '${CONSUL_HTTP_ADDR} ${TEMPLATE_DIR} ${NGINX_PREFIX} ${NGINX}' \
    </etc/consul-template/consul-template.hcl >/etc/consul-template/config.hcl
nginx -p "$PREFIX/" -c "$PREFIX/nginx.conf"
exec consul-template -config /etc/consul-template/config.hcl
