#!/bin/sh
# Wait for the database, apply migrations (never drop anything), then hand the
# process over to the command (dev server, gunicorn or worker).
set -eu

if [ -n "${DATABASE_URL:-}" ] && [ "${DATABASE_URL#postgres}" != "$DATABASE_URL" ]; then
    echo "waiting for PostgreSQL..."
    # Host and port only: the URL's password on pg_isready's command line
    # would show in `ps`.
    server=$(python -c 'import os, urllib.parse as p; u = p.urlsplit(os.environ["DATABASE_URL"]); print(u.hostname or "localhost", u.port or 5432)')
    until pg_isready -h "${server% *}" -p "${server#* }" -q; do sleep 1; done
fi

# Only one service migrates (web); workers and beat start after it is healthy.
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    flask --app docdraft db upgrade
fi

if [ "${SEED_DEMO_USERS:-0}" = "1" ] && [ "${APP_ENV:-development}" = "development" ]; then
    flask --app docdraft seed-demo
fi

exec "$@"
