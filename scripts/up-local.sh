#!/usr/bin/env bash
# The main job on a fresh machine: install what is needed, start a local AWS emulator (moto),
# create the example stack from config/presign-stack.yaml on it, and print its outputs.
# The emulator keeps the stack until you press Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
PORT="${MOTO_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"

cargo build --quiet --bin presign-stack
BIN=target/debug/presign-stack

if ! curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1; then
  moto_server -H 127.0.0.1 -p "$PORT" >.tools/moto.log 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null' EXIT
  for _ in $(seq 1 100); do
    curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

"$BIN" --spec config/presign-stack.yaml up
echo
echo "The stack runs on the local emulator at $AWS_ENDPOINT_URL (log: .tools/moto.log)."
echo "Try: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL $BIN --spec config/presign-stack.yaml outputs"
if [ -n "${MOTO_PID:-}" ]; then
  if [ -t 0 ] && [ -z "${CI:-}" ]; then
    echo "Press Ctrl-C to stop the emulator (the stack goes with it)."
    wait "$MOTO_PID"
  fi
fi
