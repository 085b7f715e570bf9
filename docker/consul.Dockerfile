# Consul 1.8.7 (MPL-2.0, UI included) as Debian 11 ships it, on our one base image. The package is only unpacked:
# it is a static binary. The bullseye line reuses the mirror the base image's apt already has.
FROM debian:bookworm-slim
ARG CONSUL_VERSION=1.8.7
RUN set -eux; \
    mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list); \
    echo "deb $mirror bullseye main" > /etc/apt/sources.list.d/bullseye.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends curl ca-certificates; \
    cd /tmp && apt-get download "consul=${CONSUL_VERSION}*"; \
    dpkg-deb -x /tmp/consul_*.deb /tmp/consul; \
    install -m 0755 /tmp/consul/usr/bin/consul /usr/local/bin/consul; \
    rm -rf /tmp/consul* /etc/apt/sources.list.d/bullseye.list /var/lib/apt/lists/*; \
    useradd --system --uid 10002 --home-dir /consul --create-home consul; \
    mkdir -p /consul/data /consul/config; chown -R consul:consul /consul
COPY consul/server.hcl /consul/config/server.hcl
COPY docker/consul-entrypoint.sh /usr/local/bin/consul-entrypoint
USER consul
EXPOSE 8500 8301 8300
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD consul-entrypoint healthcheck
ENTRYPOINT ["consul-entrypoint"]
CMD ["agent"]
