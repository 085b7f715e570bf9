# PostgreSQL 15 as Debian 12 ships it (its contrib extensions included: cube, earthdistance, unaccent, pg_trgm), run
# by Patroni (docker/patroni.lock, with Consul as its store) as one node of a primary + synchronous standby pair:
# `postgres-entrypoint patroni`. `postgres-entrypoint server` runs a lone server instead (no Patroni, no Consul).

FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
COPY docker/build-certs/ /build-certs/
COPY docker/patroni.lock /src/patroni.lock
RUN set -eux; \
    if [ -s /build-certs/ca-certificates.crt ]; then export PIP_CERT=/build-certs/ca-certificates.crt; fi; \
    python3 -m venv /opt/patroni; \
    /opt/patroni/bin/pip install --no-cache-dir --quiet --require-hashes -r /src/patroni.lock

FROM debian:bookworm-slim
ENV PG_BIN=/usr/lib/postgresql/15/bin \
    PGDATA=/var/lib/postgresql/data \
    PATRONI=/opt/patroni/bin/patroni
RUN set -eux; \
    mkdir -p /etc/postgresql-common; \
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 python3 curl; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p "$PGDATA" /var/run/postgresql /etc/patroni; \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql; \
    chmod 0700 "$PGDATA"
COPY --from=build /opt/patroni /opt/patroni
COPY docker/patroni-dcs.json /etc/patroni/patroni-dcs.json
COPY docker/patroni-config.py /usr/local/lib/patroni-config.py
COPY docker/patroni-node.sh /usr/local/bin/patroni-node
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
COPY docker/pg-restore.sh /usr/local/bin/pg-restore
USER postgres
EXPOSE 5432 8008
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=10 CMD postgres-entrypoint healthcheck
ENTRYPOINT ["postgres-entrypoint"]
CMD ["patroni"]
