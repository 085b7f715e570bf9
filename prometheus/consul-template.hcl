# consul-template for Prometheus: keeps targets/api.json equal to Consul's instances of the API, and (in the
# containers) supervises Prometheus itself. Placeholders are filled by whoever starts it.
consul {
  address = "${CONSUL_HTTP_ADDR}"
  retry {
    enabled     = true
    attempts    = 0
    backoff     = "250ms"
    max_backoff = "5s"
  }
}
wait {
  min = "1s"
  max = "3s"
}
log_level = "warn"
template {
  source      = "${TEMPLATE_DIR}/targets.json.ctmpl"
  destination = "${PROMETHEUS_TARGETS_DIR}/api.json"
  perms       = 0644
}
