#!/usr/bin/env bash
# Scan a stack with Prowler's S3, Lambda and IAM checks on the local emulator: starts moto,
# runs `presign-stack up` on the spec (default: the example, config/presign-stack.yaml), runs
# Prowler against the emulator and prints every check that failed on the stack's own
# resources, then a count of passes and failures. Installs Prowler into .tools/prowler-venv
# the first time (a few minutes); a scan takes about a minute.
#
#   scripts/scan.sh [SPEC]        SCAN_MOTO_PORT (default 4577) to change the emulator's port
set -euo pipefail
cd "$(dirname "$0")/.."
SPEC="${1:-config/presign-stack.yaml}"
PORT="${SCAN_MOTO_PORT:-4577}"
PROWLER_VERSION=5.46.0
PROWLER_VENV=.tools/prowler-venv

scripts/bootstrap.sh
source scripts/env.sh
if [ ! -x "$PROWLER_VENV/bin/prowler" ]; then
  echo "scan: installing prowler==$PROWLER_VERSION into $PROWLER_VENV" >&2
  python3 -m venv "$PROWLER_VENV"
  "$PROWLER_VENV/bin/pip" install --quiet --disable-pip-version-check "prowler==$PROWLER_VERSION"
fi
cargo build --quiet --bin presign-stack
BIN=target/debug/presign-stack

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start_moto "$PORT" "$work/moto.log"
trap 'kill ${MOTO_PID:-} 2>/dev/null; rm -rf "$work"' EXIT

# The spec's region and names, as presign-stack resolves them.
read -r REGION NAME < <("$BIN" --spec "$SPEC" --output json validate |
  python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["region"] or "us-east-1", v["name"])')
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
"$BIN" --spec "$SPEC" -q up >/dev/null

echo "scan: prowler $PROWLER_VERSION, services s3 awslambda iam, region $REGION" >&2
"$PROWLER_VENV/bin/prowler" aws --services s3 awslambda iam -f "$REGION" \
  --output-formats json-ocsf -o "$work/out" --no-banner --ignore-exit-code-3 \
  >"$work/prowler.log" 2>&1 || { cat "$work/prowler.log" >&2; exit 1; }

# Only the stack's own resources: its names all start with the stack's name.
python3 - "$work/out" "$NAME" <<'EOF'
import glob, json, sys
out, name = sys.argv[1], sys.argv[2]
rows, passed = [], 0
for f in glob.glob(f"{out}/*.ocsf.json"):
    for r in json.load(open(f)):
        uid = r["resources"][0]["uid"] if r.get("resources") else ""
        if name not in uid:
            continue
        check = r["metadata"]["event_code"]
        if r["status_code"] == "PASS":
            passed += 1
        elif r["status_code"] == "FAIL":
            rows.append((check, uid.rsplit(":", 1)[-1].rsplit("/", 1)[-1], r.get("status_detail", "")))
rows.sort()
width = max((len(c) for c, _, _ in rows), default=5)
print(f"{'check'.ljust(width)}  resource")
for check, resource, _ in rows:
    print(f"{check.ljust(width)}  {resource}")
print(f"scan: {passed} passed, {len(rows)} failed on the resources of stack {name}")
EOF
