#!/usr/bin/env bash
# make prod-local: the production topology on this machine, without Docker.
# Debian's nginx (TLS on $PORT, self-signed certificate made at first start)
# -> gunicorn (4 workers, no TensorFlow) -> PostgreSQL; a Celery worker and
# beat via Redis; all four supervised (supervisord restarts what dies).
# Configured like production from the environment; what is unset gets a
# default, printed below. State (certificate, secret, logs): $PROD_LOCAL_STATE.
# Started as root, nginx's workers run as a system user of their own
# ($PROD_LOCAL_USER, default docdraft, made if missing), and so do gunicorn
# and Celery wherever that user can run the virtual environment's Python.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEB=$ROOT/services/web
BIN=$ROOT/.venv/bin
STATE=${PROD_LOCAL_STATE:-$WEB/instance/prod-local}
# What the programs write (metrics, the beat schedule, nginx's request
# bodies) is in run/, instance/ and nginx/; the secrets, the key and the logs
# stay the launcher's.
mkdir -p "$STATE/logs" "$STATE/nginx" "$STATE/instance" "$STATE/run/metrics" "$STATE/run/home"
chmod 700 "$STATE" "$STATE/logs"

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
  # On stdin (printf is a shell builtin): a password in psql's arguments
  # would show in `ps` to every user of the machine.
  printf "ALTER ROLE docdraft PASSWORD '%s';\n" "$password" | psql -q -v ON_ERROR_STOP=1
  psql -qtAc "SELECT 1 FROM pg_database WHERE datname = '$PROD_LOCAL_DB'" | grep -q 1 \
    || createdb -O docdraft "$PROD_LOCAL_DB"
  DATABASE_URL=postgresql://docdraft:$password@$PGHOST:5432/$PROD_LOCAL_DB
fi
if [ ! -s "$STATE/cert.pem" ]; then
  (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null)
fi
chmod 600 "$STATE/key.pem"  # read by nginx's master only

# The programs' users. Started as root: nginx's workers are RUN_USER; so are
# gunicorn and Celery (APP_USER) unless RUN_USER cannot run the virtual
# environment's Python (a pyenv Python in root's home): then they stay root,
# and say so.
as_run_user() { runuser -u "$RUN_USER" -- "$@"; }
if [ "$(id -u)" = 0 ]; then
  RUN_USER=${PROD_LOCAL_USER:-docdraft}
  id -u "$RUN_USER" >/dev/null 2>&1 || useradd --system --user-group \
    --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
  NGINX_USER="user $RUN_USER $(id -gn "$RUN_USER");"
  if as_run_user "$BIN/python" -c '' 2>/dev/null; then
    APP_USER=$RUN_USER RUN_HOME=$STATE/run/home
  else
    APP_USER=root RUN_HOME=$HOME
    echo "prod-local: $RUN_USER cannot run $(readlink -f "$BIN/python"): gunicorn and Celery run as root" >&2
  fi
else
  RUN_USER=$(id -un) APP_USER=$(id -un) RUN_HOME=$HOME
  NGINX_USER="# (not root: every nginx process is $RUN_USER)"
fi
# nginx, the one proxy: gunicorn and the app believe X-Forwarded-* from this
# address alone (another loopback address than any other local caller's).
PROXY_ADDRESS=127.0.0.2

RATELIMIT_STORAGE_URI=${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/2}
# Links in mail (password reset) point at nginx here.
APP_BASE_URL=${APP_BASE_URL:-https://127.0.0.1:$PORT}
export APP_ENV=production SECRET_KEY DATABASE_URL REDIS_URL JOB_BACKEND=celery RATELIMIT_STORAGE_URI APP_BASE_URL \
  TRUSTED_PROXY_HOPS=1 TRUSTED_PROXIES=$PROXY_ADDRESS PROXY_ADDRESS \
  INSTANCE_PATH=$STATE/instance WEB_CONCURRENCY=${WEB_CONCURRENCY:-4} \
  PORT WEB_PORT STATE WEB BIN ROOT RUN_USER APP_USER RUN_HOME NGINX_USER
# For `make create-admin` and scripts: `set -a; . $STATE/env; set +a`.
( umask 077; env | grep -E '^(APP_ENV|SECRET_KEY|DATABASE_URL|REDIS_URL|JOB_BACKEND|INSTANCE_PATH|WEB_PORT|RUN_USER|APP_USER|TRUSTED_[A-Z_]+|RATELIMIT_[A-Z_]+|TEXTGEN_[A-Z_]+|JOB_[A-Z_]+|APP_BASE_URL|MAIL_[A-Z_]+)=' > "$STATE/env" )

echo "prod-local: https://127.0.0.1:$PORT/ (self-signed certificate: $STATE/cert.pem)"
echo "  APP_ENV=production JOB_BACKEND=celery REDIS_URL=$REDIS_URL RATELIMIT_STORAGE_URI=$RATELIMIT_STORAGE_URI"
echo "  DATABASE_URL=$("$BIN/python" -c 'import os; from sqlalchemy.engine import make_url; print(make_url(os.environ["DATABASE_URL"]).render_as_string(hide_password=True))')"
echo "  SECRET_KEY from ${SECRET_KEY:+the environment or $STATE/secret_key}; gunicorn on 127.0.0.1:$WEB_PORT, believing $PROXY_ADDRESS"
echo "  nginx's workers run as $RUN_USER, gunicorn and Celery as $APP_USER"
echo "  first admin: set -a; . $STATE/env; set +a; make create-admin EMAIL=... NAME=..."

# What the programs write is theirs; the state directory lets them through
# (711: no listing, and the secrets in it are 600). A checkout under a
# private directory (mktemp -d is 700) is out of RUN_USER's reach: then
# nginx's workers run as root too, and say so.
chown -R "$APP_USER:" "$STATE/run" "$STATE/instance"
chown -R "$RUN_USER:" "$STATE/nginx"
if [ "$(id -u)" = 0 ]; then
  chmod 711 "$STATE"
  as_run_user test -w "$STATE/nginx" -a -r "$WEB/docdraft/static/css/app.css" \
    -a -r "$ROOT/services/nginx/errors/500.html" || {
    echo "prod-local: $RUN_USER cannot reach $STATE or $ROOT (a directory" \
      "above them lacks o+x): nginx's workers run as root" >&2
    RUN_USER=root NGINX_USER="user root root;"
    chown -R root: "$STATE/nginx"
    sed -i 's/^RUN_USER=.*/RUN_USER=root/' "$STATE/env"  # what smoke.py checks
  }
fi
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
