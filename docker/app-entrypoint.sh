#!/bin/sh
# app-entrypoint api|worker|scheduler|migrate|smtp-sink|healthcheck|<any command>
#   api, worker, scheduler wait until the database answers at the migrations' head (the migrate one-shot's work),
#   for MUTIROES_WAIT_SECONDS, in the process itself
#   healthcheck proves the role of this container works (MUTIROES_ROLE, set by the command): see workers/healthcheck.py
set -eu
role=${1:-api}
case "$role" in
    api|worker|scheduler)
        shift || true
        export MUTIROES_ROLE="$role"
        echo "$role" >/tmp/mutiroes-role
        # each process waits itself, with the app it has made (workers/startup.py): one import of the app,
        # not two, before a new replica takes traffic
        export MUTIROES_WAIT_SECONDS="${MUTIROES_WAIT_SECONDS:-300}"
        case "$role" in
            api) exec gunicorn -c /app/gunicorn.conf.py --chdir /app wsgi:app "$@" ;;
            worker) exec python -m workers.worker "$@" ;;
            scheduler) exec python -m workers.scheduler "$@" ;;
        esac
        ;;
    migrate)
        shift || true
        echo migrate >/tmp/mutiroes-role
        mutiroes wait-for-database --timeout "${MUTIROES_WAIT_SECONDS:-300}"
        mutiroes db upgrade
        exec mutiroes seed
        ;;
    smtp-sink)
        shift || true
        echo smtp-sink >/tmp/mutiroes-role
        exec python -m workers.smtp_sink --host 0.0.0.0 --port "${MUTIROES_SINK_PORT:-1025}" --dir /app/mail "$@"
        ;;
    healthcheck)
        exec python -m workers.healthcheck "$(cat /tmp/mutiroes-role 2>/dev/null || echo none)"
        ;;
    *)
        exec "$@"
        ;;
esac
