# Prometheus 2.42 as Debian 12 ships it, with our scrape configuration and alert rules, and consul-template (from the
# gateway image: build that first, scripts/build-images.sh does) rendering the API replicas' targets from Consul.
ARG MUTIROES_IMAGE_TAG=latest
FROM mutiroes-gateway:${MUTIROES_IMAGE_TAG} AS gateway

FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends prometheus curl gettext-base; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /prometheus/data /prometheus/targets /etc/prometheus/mutiroes; \
    chown -R prometheus:prometheus /prometheus /etc/prometheus/mutiroes
COPY --from=gateway /usr/local/bin/consul-template /usr/local/bin/consul-template
COPY prometheus/ /etc/prometheus/mutiroes/
COPY docker/prometheus-entrypoint.sh /usr/local/bin/prometheus-entrypoint
USER prometheus
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:9090/-/ready
ENTRYPOINT ["prometheus-entrypoint"]
