# Consul server of the compose deployment (one server; for more, raise bootstrap_expect and add retry_join).
server           = true
bootstrap_expect = 1
ui_config {
  enabled = true
}
client_addr    = "0.0.0.0"
bind_addr      = "0.0.0.0"
data_dir       = "/consul/data"
log_level      = "INFO"
disable_update_check = true
# dead replicas' checks stop counting quickly; deregistration after 1 min critical is set per service
reconnect_timeout = "8h"
