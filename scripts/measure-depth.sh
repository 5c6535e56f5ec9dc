#!/usr/bin/env bash
# Round-trip depth of each command: how many request round trips it waits for one after
# another. Against AWS every round trip costs tens of milliseconds, so depth, not request
# count, sets how long a command takes; on a local emulator it does not show.
#
# It starts its own moto and, in front of it, scripts/delay_proxy.py, which holds every request
# for DEPTH_DELAY_MS (100) before forwarding it. For each hosting layout (`s3-website`, and
# `cloudfront` with `api_path: /api`; both otherwise the example spec; and `signin`, the
# example with `auth.cognito` and `rate_limit`, config/presign-stack-signin.yaml), each round runs cold
# `up`, no-op `up`, `plan`, `drift` and `down --yes` on a fresh emulator state, once directly
# against moto and once through the proxy. A command's depth is
#   (wall time through the proxy - wall time direct) / DEPTH_DELAY_MS,
# and the table gives the median over DEPTH_ROUNDS (3) rounds, after one untimed cycle per
# layout. Requests sent concurrently share their delay, so they count once. The figures are
# differences of wall times: the tool's own work overlaps the delays, so a figure can fall a
# little below the number of waves of requests; more rounds, or a longer delay, steady them
# on a busy machine.
#
# Knobs: PRESIGN_STACK_BIN (a built binary; default: `cargo build` and target/debug),
# DEPTH_ROUNDS, DEPTH_DELAY_MS. The presigner is a stand-in zip (moto never runs it), so no
# cargo-lambda build is timed. A CloudFront change deploys at once
# (MOTO_CLOUDFRONT_DEPLOY_SECONDS=0), so `down` polls once rather than sleeping for moto's
# deploy timer. Each round's figures go to stderr, the table to stdout.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh

ROUNDS=${DEPTH_ROUNDS:-3}
DELAY_MS=${DEPTH_DELAY_MS:-100}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "error: DEPTH_ROUNDS must be a whole number, not '$ROUNDS'" >&2; exit 1; }
[[ $DELAY_MS =~ ^[1-9][0-9]*$ ]] || { echo "error: DEPTH_DELAY_MS must be a whole number of milliseconds, not '$DELAY_MS'" >&2; exit 1; }
if [ -n "${PRESIGN_STACK_BIN:-}" ]; then
  BIN=$PRESIGN_STACK_BIN
else
  cargo build --quiet --bin presign-stack
  BIN="$PWD/target/debug/presign-stack"
fi
[ -x "$BIN" ] || { echo "error: $BIN is not an executable presign-stack binary" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
MOTO_PORT=$(free_port)
PROXY_PORT=$(free_port)
DIRECT="http://127.0.0.1:$MOTO_PORT"
PROXIED="http://127.0.0.1:$PROXY_PORT"

export MOTO_CLOUDFRONT_DEPLOY_SECONDS=0
# A distribution that never deploys then fails `down` within a minute instead of half an hour.
export PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS=60
start_moto "$MOTO_PORT" "$work/moto.log"
pids+=("$MOTO_PID")
python3 scripts/delay_proxy.py --port "$PROXY_PORT" --upstream "127.0.0.1:$MOTO_PORT" \
  --delay-ms "$DELAY_MS" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "$PROXIED/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$PROXIED/moto-api/" >/dev/null || {
  echo "error: the delaying proxy did not answer on $PROXIED (log: $(cat "$work/proxy.log"))" >&2
  exit 1
}

# A stand-in bundle: moto stores the code and never runs it.
python3 - "$work/presigner.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    z.writestr(info, "#!/bin/sh\n")
EOF

LAYOUTS=(s3-website cloudfront signin)
for layout in "${LAYOUTS[@]}"; do
  spec="$work/$layout.yaml"
  example=config/presign-stack.yaml
  [ "$layout" = signin ] && example=config/presign-stack-signin.yaml
  sed -e "s|source: \.\./lambda-bundle|zip: $work/presigner.zip|" \
    -e "s|source: \.\./frontend|source: $PWD/frontend|" "$example" >"$spec"
  if [ "$layout" = s3-website ]; then
    sed -i -e 's/hosting: cloudfront/hosting: s3-website/' -e '/^  cloudfront:/d' \
      -e '/^    api_path:/d' "$spec"
  fi
  "$BIN" --spec "$spec" -q validate >/dev/null ||
    { echo "error: \`presign-stack validate\` refused the $layout spec $spec" >&2; exit 1; }
  [ "$layout" = signin ] || grep -q "hosting: $layout" "$spec" ||
    { echo "error: $spec is not the $layout layout" >&2; exit 1; }
done

COMMANDS=("up" "up" "plan" "drift" "down --yes")
LABELS=("cold \`up\`" "no-op \`up\`" "\`plan\`" "\`drift\`" "\`down\`")

# Seconds taken by one command; any exit code but 0 stops the script with its output.
timed() {
  local endpoint=$1 spec=$2 label=$3; shift 3
  local start end code=0
  start=$(date +%s%N)
  AWS_ENDPOINT_URL=$endpoint "$BIN" --spec "$spec" -q "$@" >"$work/out.log" 2>&1 || code=$?
  end=$(date +%s%N)
  if [ "$code" -ne 0 ]; then
    echo "error: \`presign-stack $*\` ($label) exited $code:" >&2
    tail -n 20 "$work/out.log" >&2
    exit 1
  fi
  echo "($end - $start) / 1000000000" | bc -l
}

# One fresh stack through `endpoint`: the five commands' seconds, space-separated.
cycle() {
  local endpoint=$1 spec=$2 label=$3 times=() i
  curl -sf -X POST "$DIRECT/moto-api/reset" >/dev/null
  for i in "${!COMMANDS[@]}"; do
    # shellcheck disable=SC2086 # the command's words
    times+=("$(timed "$endpoint" "$spec" "$label" ${COMMANDS[$i]})")
  done
  echo "${times[*]}"
}

# moto imports a service's code on its first request to it: keep that out of the first round.
for layout in "${LAYOUTS[@]}"; do
  cycle "$DIRECT" "$work/$layout.yaml" "$layout, warming up" >/dev/null
done

results="$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for layout in "${LAYOUTS[@]}"; do
    direct=$(cycle "$DIRECT" "$work/$layout.yaml" "$layout, direct")
    proxied=$(cycle "$PROXIED" "$work/$layout.yaml" "$layout, through the proxy")
    echo "$layout $direct $proxied" >>"$results"
    echo "round $round, $layout: direct $direct s; through the proxy $proxied s" |
      awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) $i = sprintf("%.2f", $i); print }' >&2
  done
done

python3 - "$results" "$DELAY_MS" "${LABELS[@]}" <<'EOF'
import statistics, sys
path, delay_ms, labels = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
rows = [line.split() for line in open(path)]
layouts = list(dict.fromkeys(row[0] for row in rows))
depths = {layout: [[] for _ in labels] for layout in layouts}
for layout, *times in rows:
    direct, proxied = times[: len(labels)], times[len(labels):]
    for i, (d, p) in enumerate(zip(direct, proxied)):
        depths[layout][i].append((float(p) - float(d)) * 1000 / delay_ms)
print("| command | " + " | ".join(f"`{l}`" for l in layouts) + " |")
print("| --- | " + " | ".join("---:" for _ in layouts) + " |")
for i, label in enumerate(labels):
    cells = [f"{statistics.median(depths[l][i]):.1f}" for l in layouts]
    print(f"| {label} | " + " | ".join(cells) + " |")
EOF
