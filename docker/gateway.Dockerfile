# The gateway: nginx with consul-template, which rewrites nginx's upstream from Consul's healthy API replicas.
# consul-template is built from source with a pinned Go toolchain fetched from the Go module proxy (checksummed).

FROM debian:bookworm-slim AS consul-template
ARG GO_VERSION=1.24.11
ARG GO_SHA256=8a9685c09d449928863152512648530dafde05e7d41fcbb21baba3a852e84ef4
ARG CONSUL_TEMPLATE_VERSION=v0.41.1
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates unzip && rm -rf /var/lib/apt/lists/*
COPY docker/build-certs/ /build-certs/
RUN set -eux; \
    if [ -s /build-certs/ca-certificates.crt ]; then export SSL_CERT_FILE=/build-certs/ca-certificates.crt; fi; \
    curl -fsSL ${SSL_CERT_FILE:+--cacert "$SSL_CERT_FILE"} -o /tmp/go.zip \
        "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-amd64.zip"; \
    echo "${GO_SHA256}  /tmp/go.zip" | sha256sum -c -; \
    unzip -q /tmp/go.zip -d /tmp/go-unpacked; \
    mv "/tmp/go-unpacked/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-amd64" /usr/local/go; \
    rm -rf /tmp/go.zip /tmp/go-unpacked; \
    GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN=/out GOPATH=/tmp/gopath GOCACHE=/tmp/gocache \
        /usr/local/go/bin/go install -ldflags="-s -w" "github.com/hashicorp/consul-template@${CONSUL_TEMPLATE_VERSION}"; \
    rm -rf /tmp/gopath /tmp/gocache

FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends nginx-light gettext-base curl; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --uid 10003 --home-dir /gateway gateway; \
    mkdir -p /gateway/logs /gateway/run /gateway/tmp /gateway/media /gateway/consul-template; \
    chown -R gateway:gateway /gateway; \
    # the media volume is written by the API image's user (uid 10001) and only read here
    chown 10001:10001 /gateway/media
COPY --from=consul-template /out/consul-template /usr/local/bin/consul-template
COPY nginx/nginx.conf nginx/security_headers.conf /gateway/
# the entrypoint rewrites it when MUTIROES_SERVER_NAMES is set
COPY --chown=gateway:gateway nginx/server_names.conf /gateway/
COPY consul/upstream.conf.ctmpl consul/consul-template.hcl /gateway/consul-template/
COPY docker/gateway-entrypoint.sh /usr/local/bin/gateway-entrypoint
USER gateway
WORKDIR /gateway
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD gateway-entrypoint healthcheck
ENTRYPOINT ["gateway-entrypoint"]
CMD ["serve"]
