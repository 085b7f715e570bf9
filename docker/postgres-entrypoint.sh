#!/bin/sh
# postgres-entrypoint server        initialise the data folder when it is empty, then run PostgreSQL
# postgres-entrypoint healthcheck   the server accepts connections and answers a query
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

case "${1:-server}" in
    server)
        shift || true
        [ -s "$PGDATA/PG_VERSION" ] || initialise
        exec "$PG_BIN/postgres" -D "$PGDATA" "$@"
        ;;
    healthcheck)
        "$PG_BIN/pg_isready" -q -U "$USER_NAME" -d "$DB_NAME" \
            && psql -qtA -U "$USER_NAME" -d "$DB_NAME" -c 'select 1' >/dev/null
        ;;
    *)
        exec "$@"
        ;;
esac
