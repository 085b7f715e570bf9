# Redis 7 and Sentinel as Debian 12 ships them: `redis-entrypoint server` (master or replica) or
# `redis-entrypoint sentinel`.
FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends redis-server redis-sentinel; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /data; chown redis:redis /data
COPY docker/redis-entrypoint.sh /usr/local/bin/redis-entrypoint
USER redis
WORKDIR /data
EXPOSE 6379 26379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD redis-entrypoint healthcheck
ENTRYPOINT ["redis-entrypoint"]
CMD ["server"]
