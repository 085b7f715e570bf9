# Consul server of the compose and swarm deployments (one server; for more, raise bootstrap_expect and add
# retry_join). Consul 1.8 (Debian 11's), so the UI switch is `ui`, not the later `ui_config` block.
server               = true
# a fixed name in either engine (ACLs are added by docker/consul-entrypoint.sh from the master token's secret file)
node_name            = "consul"
bootstrap_expect     = 1
ui                   = true
client_addr          = "0.0.0.0"
# the container's first network (a swarm task also sits on the ingress network: one address must be chosen)
bind_addr            = "{{ GetInterfaceIP \"eth0\" }}"
data_dir             = "/consul/data"
log_level            = "INFO"
disable_update_check = true
reconnect_timeout    = "8h"
