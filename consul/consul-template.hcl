# consul-template: keeps nginx's upstream equal to Consul's healthy API replicas.
# The dollar-brace placeholders are filled in by whoever starts it (the local cluster, or the gateway container's entrypoint).

consul {
  address = "${CONSUL_HTTP_ADDR}"
  retry {
    enabled     = true
    attempts    = 0 # forever: nginx keeps its last upstream while Consul is away
    backoff     = "250ms"
    max_backoff = "5s"
  }
}

# Coalesce bursts of changes (a rolling restart) into few reloads, but never wait longer than 3 s.
wait {
  min = "1s"
  max = "3s"
}

log_level = "info"

template {
  source      = "${TEMPLATE_DIR}/upstream.conf.ctmpl"
  destination = "${NGINX_PREFIX}/upstream.conf"
  perms       = 0644
  # runs only when the rendered output changed; a config nginx refuses is never loaded
  command         = "${NGINX} -q -t -p ${NGINX_PREFIX} -c ${NGINX_PREFIX}/nginx.conf && ${NGINX} -s reload -p ${NGINX_PREFIX} -c ${NGINX_PREFIX}/nginx.conf"
  command_timeout = "30s"
}
