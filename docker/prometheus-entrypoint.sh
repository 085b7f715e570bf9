#!/bin/sh
# consul-template renders the API replicas' targets from Consul, then runs Prometheus as its supervised child.
# When the targets change Prometheus gets SIGHUP (file_sd rereads them itself): a restart would keep the stopped
# replicas' last samples alive for the 5-minute lookback instead of marking them stale.
set -eu
export CONSUL_HTTP_ADDR="${CONSUL_HTTP_ADDR:-consul:8500}" TEMPLATE_DIR=/etc/prometheus/mutiroes \
    PROMETHEUS_CONFIG_DIR=/etc/prometheus/mutiroes PROMETHEUS_TARGETS_DIR=/prometheus/targets
if [ -n "${CONSUL_HTTP_TOKEN_FILE:-}" ]; then
    CONSUL_HTTP_TOKEN=$(cat "$CONSUL_HTTP_TOKEN_FILE")
    export CONSUL_HTTP_TOKEN
fi
vars='${CONSUL_HTTP_ADDR} ${TEMPLATE_DIR} ${PROMETHEUS_CONFIG_DIR} ${PROMETHEUS_TARGETS_DIR}'
envsubst "$vars" </etc/prometheus/mutiroes/prometheus.yml >/prometheus/prometheus.yml
envsubst "$vars" </etc/prometheus/mutiroes/consul-template.hcl >/prometheus/consul-template.hcl
echo '[]' >/prometheus/targets/api.json
exec consul-template -config /prometheus/consul-template.hcl -exec-kill-signal=SIGTERM -exec-reload-signal=SIGHUP -exec \
    "prometheus --config.file=/prometheus/prometheus.yml --storage.tsdb.path=/prometheus/data \
     --storage.tsdb.retention.time=15d --web.listen-address=0.0.0.0:9090 $*"
