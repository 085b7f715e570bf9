# Consul agent of the local cluster, started as `consul agent -dev -config-file consul/dev.hcl` (in-memory state,
# one node that is its own server). Ports other than HTTP are chosen by the cluster to avoid clashes.
ui             = true
client_addr    = "127.0.0.1"
bind_addr      = "127.0.0.1"
log_level      = "WARN"
disable_update_check = true
