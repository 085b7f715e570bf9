# PostgreSQL 15 as Debian 12 ships it (with the contrib extensions the migrations use: cube, earthdistance,
# unaccent, pg_trgm). The entrypoint initialises an empty data folder from POSTGRES_USER / POSTGRES_DB and the
# password in POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD), then runs the server as the unprivileged `postgres`.
FROM debian:bookworm-slim
ENV PG_BIN=/usr/lib/postgresql/15/bin \
    PGDATA=/var/lib/postgresql/data
RUN set -eux; \
    mkdir -p /etc/postgresql-common; \
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p "$PGDATA" /var/run/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql; \
    chmod 0700 "$PGDATA"
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
COPY docker/pg-restore.sh /usr/local/bin/pg-restore
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=10 CMD postgres-entrypoint healthcheck
ENTRYPOINT ["postgres-entrypoint"]
CMD ["server"]
