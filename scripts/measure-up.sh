#!/usr/bin/env bash
# Wall time and AWS request counts of a cold `up`, a no-op `up`, `plan` and `drift`, on a fresh local
# emulator, for the example stack. The bundle is built once beforehand, so the figures are the
# provisioner's own; `--source` keeps the cargo-lambda step (a cached no-op build) in them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
cargo build --release --quiet --bin presign-stack
BIN="$PWD/target/release/presign-stack"
work=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/moto-server -H 127.0.0.1 -p "$PORT" >"$work/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null; rm -rf "$work"' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
until curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null; do sleep 0.1; done

spec="$work/spec.yaml"
sed "s|\.\./lambda-bundle|$PWD/lambda-bundle|; s|\.\./frontend|$PWD/frontend|" config/presign-stack.yaml >"$spec"
"$BIN" --spec "$spec" -q validate >/dev/null
if [ "${1:-}" != "--source" ]; then
  # Build once, then deploy the zip, so every run below measures provisioning alone.
  (cd lambda-bundle && CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s} cargo lambda build --release --output-format zip --lambda-dir "$work/lambda" >/dev/null)
  sed -i "s|source: .*lambda-bundle|zip: $work/lambda/bootstrap/bootstrap.zip|" "$spec"
fi

measure() {
  local label=$1; shift
  local log="$work/requests.log"
  rm -f "$log"
  local start end
  start=$(date +%s%N)
  PRESIGN_STACK_REQUEST_LOG="$log" "$BIN" --spec "$spec" -q "$@" >/dev/null || [ $? -eq 2 ]
  end=$(date +%s%N)
  printf '| %-12s | %8.3f | %8d | %6d |\n' "$label" "$(echo "($end - $start) / 1000000000" | bc -l)" \
    "$(wc -l <"$log")" "$(grep -vcE ' (Get|List|Head)' "$log" || true)"
}

echo "| run          | wall (s) | requests | writes |"
echo "|--------------|----------|----------|--------|"
measure "plan (empty)" plan
measure "cold up" up
measure "no-op up" up
measure "no-op up" up
measure "plan" plan
measure "drift" drift
