#!/usr/bin/env bash
# make prod-smoke (CI): start prod-local on a free port, walk through nginx
# with smoke.py, stop everything. Fails if any step fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/.venv/bin
export PROD_LOCAL_STATE=${PROD_LOCAL_STATE:-$(mktemp -d)/prod-local}
export PORT=${PORT:-$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

bash "$ROOT/services/prodlocal/run.sh" > "${PROD_LOCAL_STATE%/prod-local}/run.log" 2>&1 &
supervisor=$!
stop() {
  kill "$supervisor" 2>/dev/null || true
  wait "$supervisor" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 60); do [ -s "$PROD_LOCAL_STATE/env" ] && break; sleep 1; done

admin_email=admin-$RANDOM@example.org
admin_password=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(16))')
sleep 3  # migrations run before supervisord starts
( set -a; . "$PROD_LOCAL_STATE/env"; set +a
  cd "$ROOT/services/web"
  ADMIN_PASSWORD=$admin_password "$BIN/flask" --app docdraft create-admin \
    --email "$admin_email" --name "Smoke Admin" )
if ! "$BIN/python" "$ROOT/services/prodlocal/smoke.py" "https://127.0.0.1:$PORT" \
    "$PROD_LOCAL_STATE/cert.pem" "$admin_email" "$admin_password"; then
  echo "smoke walk failed; logs:"
  tail -n 40 "$PROD_LOCAL_STATE"/logs/*.log "${PROD_LOCAL_STATE%/prod-local}/run.log"
  exit 1
fi
