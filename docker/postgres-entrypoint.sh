#!/bin/sh
# postgres-entrypoint patroni          one node of the Patroni pair: its configuration from the environment
#                                      (docker/patroni-config.py), then Patroni behind its liveness check
# postgres-entrypoint server           a lone server: initialise the data folder when it is empty, then run it
# postgres-entrypoint healthcheck      the server accepts connections and answers a query (primary or standby)
# postgres-entrypoint create-database  Patroni's post_init: the app's database, once, on the first primary
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
USER_NAME=${POSTGRES_USER:-mutiroes}
DB_NAME=${POSTGRES_DB:-$USER_NAME}

password() {
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        cat "$POSTGRES_PASSWORD_FILE"
    elif [ -n "${POSTGRES_PASSWORD:-}" ]; then
        printf '%s' "$POSTGRES_PASSWORD"
    else
        echo "postgres-entrypoint: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2
        exit 1
    fi
}

initialise() {
    pwfile=$(mktemp)
    password >"$pwfile"
    "$PG_BIN/initdb" -D "$PGDATA" -U "$USER_NAME" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    {
        echo "listen_addresses = '*'"
        echo "max_connections = ${POSTGRES_MAX_CONNECTIONS:-200}"
        echo "shared_buffers = 128MB"
        echo "password_encryption = scram-sha-256"
    } >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    "$PG_BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$DB_NAME" != "postgres" ]; then
        "$PG_BIN/createdb" -U "$USER_NAME" "$DB_NAME"
    fi
    "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
}

case "${1:-patroni}" in
    patroni)
        shift || true
        home=/var/lib/postgresql
        if [ -n "${CONSUL_HTTP_TOKEN_FILE:-}" ]; then
            CONSUL_HTTP_TOKEN=$(cat "$CONSUL_HTTP_TOKEN_FILE")
            export CONSUL_HTTP_TOKEN
        fi
        python3 /usr/local/lib/patroni-config.py "$home"
        exec patroni-node "$home/patroni.yml" "$home/liveness-check.json" 127.0.0.1:8008
        ;;
    create-database)
        # Patroni passes a connection URL of the superuser
        exec psql -qtA "$2" -c "CREATE DATABASE \"$DB_NAME\""
        ;;
    server)
        shift || true
        [ -s "$PGDATA/PG_VERSION" ] || initialise
        exec "$PG_BIN/postgres" -D "$PGDATA" "$@"
        ;;
    healthcheck)
        if [ -f /var/lib/postgresql/patroni.yml ]; then
            # Patroni's own answer: 200 while its PostgreSQL runs, primary or standby
            exec curl -fsS -o /dev/null -m 2 http://127.0.0.1:8008/health
        fi
        "$PG_BIN/pg_isready" -q -h /var/run/postgresql -U "$USER_NAME" -d "$DB_NAME" \
            && psql -qtA -h /var/run/postgresql -U "$USER_NAME" -d "$DB_NAME" -c 'select 1' >/dev/null
        ;;
    *)
        exec "$@"
        ;;
esac
