#!/usr/bin/env bash
# Runs the Postman collection under newman against a live `deno task serve` from this checkout.
# Usage: tests/postman/newman.sh [embedded|postgres]
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:-embedded}
port=$((20000 + RANDOM % 20000))
data_dir=$(mktemp -d)
db=""
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  [ -n "$db" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

env_vars=(PORT="$port" DATA_DIR="$data_dir")
if [ "$backend" = postgres ]; then
  db="newman_$(date +%s)_$$"
  createdb -h 127.0.0.1 -U postgres "$db"
  env_vars+=(DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')")
else
  env_vars+=(DATABASE_URL=)
fi
env "${env_vars[@]}" deno task serve >"$data_dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.5
done
npx -y newman@6.2.2 run tests/postman/task_api.postman_collection.json \
  --env-var "baseUrl=http://127.0.0.1:$port" --bail
kill -TERM "$pid"
wait "$pid" || { echo "server exited non-zero after SIGTERM"; cat "$data_dir/server.log"; exit 1; }
pid=""
