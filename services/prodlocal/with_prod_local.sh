#!/usr/bin/env bash
# Run a command against a fresh prod-local (make prod-smoke, make faults):
# start it on a free port with its own state, make an admin, export where it
# is (PROD_BASE, PROD_CERT, PROD_ADMIN_EMAIL, PROD_ADMIN_PASSWORD, its env:
# WEB_PORT, TRUSTED_PROXIES...), run the command, stop everything. On
# failure, show the logs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/.venv/bin
if [ -z "${PROD_LOCAL_STATE:-}" ]; then
  scratch=$(mktemp -d)
  chmod 711 "$scratch"  # run as root, the programs' user passes through
  export PROD_LOCAL_STATE=$scratch/prod-local
fi
export PORT=${PORT:-$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export PROD_LOCAL_DB=docdraft_prod_local_$$  # a database of its own, dropped after
log=${PROD_LOCAL_STATE%/prod-local}/run.log

bash "$ROOT/services/prodlocal/run.sh" > "$log" 2>&1 &
launcher=$!
stop() {
  kill "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
  dropdb -h 127.0.0.1 -U postgres --if-exists "$PROD_LOCAL_DB" || true
}
trap stop EXIT
# run.sh writes its env file, migrates, then starts supervisord (exec: the
# launcher's pid stays supervisord's). If it dies first, or the socket never
# comes, say so now with its last lines, instead of leaving the command to
# retry a dead address for minutes.
wait_for_launcher() {
  for _ in $(seq 120); do
    [ -S "$PROD_LOCAL_STATE/supervisor.sock" ] && return 0
    if ! kill -0 "$launcher" 2>/dev/null; then
      wait "$launcher" && status=0 || status=$?
      echo "prod-local: run.sh exited (status $status) before supervisord started; its last lines:"
      tail -n 40 "$log"
      return 1
    fi
    sleep 1
  done
  echo "prod-local: no $PROD_LOCAL_STATE/supervisor.sock after 120 s; run.sh's last lines:"
  tail -n 40 "$log"
  return 1
}
wait_for_launcher || exit 1

set -a; . "$PROD_LOCAL_STATE/env"; set +a
export PROD_BASE=https://127.0.0.1:$PORT PROD_CERT=$PROD_LOCAL_STATE/cert.pem
export PROD_ADMIN_EMAIL=admin-$RANDOM@example.org
export PROD_ADMIN_PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(16))')
(cd "$ROOT/services/web" && ADMIN_PASSWORD=$PROD_ADMIN_PASSWORD "$BIN/flask" --app docdraft \
  create-admin --email "$PROD_ADMIN_EMAIL" --name "Admin")

if ! "$@"; then
  echo "failed: $*; logs:"
  tail -n 40 "$PROD_LOCAL_STATE"/logs/*.log "$log"
  exit 1
fi
