#!/usr/bin/env bash
# The main job on a fresh machine: install what is needed, start a local AWS emulator (moto),
# create the example stack from config/presign-stack.yaml on it, and print its outputs; then
# run the whole app with `presign-stack dev` and print the page's URL (DEV_PORT, default 8080)
# to open and upload a file. Ctrl-C stops both. Not interactive (CI set, or stdin not a
# terminal): dev is started, an upload through it is checked, and everything stops.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
PORT="${MOTO_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"

cargo build --quiet --bin presign-stack
BIN=target/debug/presign-stack

start_moto "$PORT" .tools/moto.log
[ -z "$MOTO_PID" ] || trap 'kill $MOTO_PID 2>/dev/null' EXIT

"$BIN" --spec config/presign-stack.yaml up
echo
echo "The stack runs on the local emulator at $AWS_ENDPOINT_URL (log: .tools/moto.log)."
echo "Try: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL $BIN --spec config/presign-stack.yaml outputs"
echo
DEV=("$BIN" --spec config/presign-stack.yaml dev)
if [ -t 0 ] && [ -z "${CI:-}" ]; then
  echo "Now the whole app on this machine (presign-stack dev, no emulator needed): open the URL"
  echo "below and upload a file. Ctrl-C stops it${MOTO_PID:+ and the emulator (the stack goes with it)}."
  "${DEV[@]}" --port "${DEV_PORT:-8080}"
else
  rm -f .tools/dev.url
  "${DEV[@]}" --port 0 >.tools/dev.url 2>.tools/dev.log &
  DEV_PID=$!
  # Whatever fails below, neither dev nor an emulator started here is left running.
  trap 'kill "$DEV_PID" ${MOTO_PID:-} 2>/dev/null || true' EXIT
  url=""
  for _ in $(seq 1 100); do
    url=$(head -n 1 .tools/dev.url 2>/dev/null || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    cat .tools/dev.log >&2
    echo "error: presign-stack dev did not start (log above)" >&2
    exit 1
  fi
  # One upload through dev as the page makes it: ask the presigner (on the page's origin
  # under /api, as CloudFront serves it, with the body's SHA-256 as Origin Access Control
  # needs) with the file's SHA-256, then PUT with every header it signed (content type,
  # if-none-match, the checksum). The same URL used again must get 412: it is single-use.
  curl -sf "$url" >/dev/null
  presigner=$(curl -sf "${url}config.json" | python3 -c 'import json,sys,urllib.parse; print(urllib.parse.urljoin(sys.argv[1], json.load(sys.stdin)["presignerUrl"]))' "$url")
  file_sha=$(printf 'hello\n' | python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode())')
  body="{\"filename\":\"hello.txt\",\"contentType\":\"text/plain\",\"size\":6,\"sha256\":\"$file_sha\"}"
  sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
  answer=$(curl -sf -X POST "${presigner}uploads" -H 'content-type: application/json' \
    -H "x-amz-content-sha256: $sha" -d "$body")
  put=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  headers=()
  while IFS= read -r h; do headers+=(-H "$h"); done < <(printf '%s' "$answer" |
    python3 -c 'import json,sys; [print(f"{k}: {v}") for k, v in json.load(sys.stdin)["headers"].items() if k != "content-length"]')
  printf 'hello\n' | curl -sf -X PUT "$put" "${headers[@]}" --data-binary @- >/dev/null
  again=$(printf 'hello\n' | curl -s -o /dev/null -w '%{http_code}' -X PUT "$put" "${headers[@]}" --data-binary @-)
  if [ "$again" != 412 ]; then
    echo "error: a second PUT with the same upload URL got $again, not 412" >&2
    exit 1
  fi
  kill -TERM "$DEV_PID"
  wait "$DEV_PID"
  echo "presign-stack dev served the page at $url and took an upload (checked by its SHA-256; the URL refused a second PUT with 412); stopped (not interactive)."
fi
