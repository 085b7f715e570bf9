#!/bin/sh
# pg-restore [DUMP]: restore a `pg_dump -Fc` archive (a file, or standard input) into the database, replacing what
# is there, in one transaction. Used by `make restore-db` in every mode.
#
# pg_restore runs with an empty search_path, and PostgreSQL's earthdistance functions name their own types without a
# schema, so the GiST index on ll_to_earth(latitude, longitude) could not be rebuilt that way ("type earth does not
# exist"). The archive is turned into SQL and replayed with search_path = public: our own database, so the reason
# pg_dump empties it (objects of untrusted schema owners) does not apply.
# Connection: PGHOST, PGPORT, PGUSER, PGDATABASE as for every libpq tool (default: the local socket, mutiroes).
set -eu
bin=${PG_BIN:+$PG_BIN/}
export PGUSER="${PGUSER:-${POSTGRES_USER:-mutiroes}}" PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-mutiroes}}"
"${bin}pg_restore" --clean --if-exists --no-owner -f - ${1:+"$1"} \
    | sed "s/set_config('search_path', '', false)/set_config('search_path', 'public', false)/" \
    | "${bin}psql" -X -q -v ON_ERROR_STOP=1 --single-transaction >/dev/null
