#!/usr/bin/env bash
# make prod-local: the production topology on this machine, without Docker.
# Debian's nginx (TLS on $PORT, self-signed certificate made at first start)
# -> gunicorn (4 workers, no TensorFlow) -> PostgreSQL; a Celery worker and
# beat via Redis; all four supervised (supervisord restarts what dies).
# Configured like production from the environment; what is unset gets a
# default, printed below. State (certificate, secret, logs): $PROD_LOCAL_STATE.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEB=$ROOT/services/web
BIN=$ROOT/.venv/bin
STATE=${PROD_LOCAL_STATE:-$WEB/instance/prod-local}
mkdir -p "$STATE/logs" "$STATE/nginx" "$STATE/instance"
chmod 700 "$STATE"

free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
random_secret() { "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))'; }
keep() { [ -s "$STATE/$1" ] || (umask 077; random_secret > "$STATE/$1"); cat "$STATE/$1"; }

PORT=${PORT:-8443}
WEB_PORT=$(free_port)
SECRET_KEY=${SECRET_KEY:-$(keep secret_key)}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/1}
PROD_LOCAL_DB=${PROD_LOCAL_DB:-docdraft_prod_local}
if [ -z "${DATABASE_URL:-}" ]; then
  # The machine's PostgreSQL: a role with its own password (production
  # refuses a passwordless database), and a database of its own.
  password=$(keep db_password)
  export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
  psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'docdraft'" | grep -q 1 \
    || psql -qc "CREATE ROLE docdraft LOGIN"
  psql -qc "ALTER ROLE docdraft PASSWORD '$password'"
  psql -qtAc "SELECT 1 FROM pg_database WHERE datname = '$PROD_LOCAL_DB'" | grep -q 1 \
    || createdb -O docdraft "$PROD_LOCAL_DB"
  DATABASE_URL=postgresql://docdraft:$password@$PGHOST:5432/$PROD_LOCAL_DB
fi
if [ ! -s "$STATE/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null
fi

RATELIMIT_STORAGE_URI=${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/2}
export APP_ENV=production SECRET_KEY DATABASE_URL REDIS_URL JOB_BACKEND=celery RATELIMIT_STORAGE_URI \
  TRUSTED_PROXY_HOPS=1 INSTANCE_PATH=$STATE/instance WEB_CONCURRENCY=${WEB_CONCURRENCY:-4} \
  PORT WEB_PORT STATE WEB BIN ROOT
# For `make create-admin` and scripts: `set -a; . $STATE/env; set +a`.
( umask 077; env | grep -E '^(APP_ENV|SECRET_KEY|DATABASE_URL|REDIS_URL|JOB_BACKEND|INSTANCE_PATH|RATELIMIT_[A-Z_]+|TEXTGEN_[A-Z_]+|JOB_[A-Z_]+)=' > "$STATE/env" )

echo "prod-local: https://127.0.0.1:$PORT/ (self-signed certificate: $STATE/cert.pem)"
echo "  APP_ENV=production JOB_BACKEND=celery REDIS_URL=$REDIS_URL RATELIMIT_STORAGE_URI=$RATELIMIT_STORAGE_URI"
echo "  DATABASE_URL=$("$BIN/python" -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).render_as_string(hide_password=True))' "$DATABASE_URL")"
echo "  SECRET_KEY from ${SECRET_KEY:+the environment or $STATE/secret_key}; gunicorn on 127.0.0.1:$WEB_PORT"
echo "  first admin: set -a; . $STATE/env; set +a; make create-admin EMAIL=... NAME=..."

(cd "$WEB" && "$BIN/flask" --app docdraft db upgrade)
"$BIN/python" - "$ROOT/services/prodlocal" "$STATE" <<'PY'
import os, string, sys
source, state = sys.argv[1:]
for name in ("nginx.conf", "supervisord.conf"):
    with open(os.path.join(source, name + ".in")) as template:
        text = string.Template(template.read()).substitute(os.environ)
    with open(os.path.join(state, name), "w") as rendered:
        rendered.write(text)
PY
exec "$BIN/supervisord" -n -c "$STATE/supervisord.conf"
