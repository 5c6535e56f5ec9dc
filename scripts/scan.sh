#!/usr/bin/env bash
# Scan a stack with Prowler's S3, Lambda, IAM, CloudFront, Cognito, WAF and GuardDuty checks on the local
# emulator: starts moto, runs `presign-stack up` on the spec (default: the example,
# config/presign-stack.yaml; config/presign-stack-signin.yaml has sign-in and a rate limit),
# runs Prowler against the emulator and prints every check that failed on the stack's own
# resources, then a count of passes and failures. Every check of those services runs, the
# threat-detection ones included (Prowler leaves those out of `--services` runs). Installs Prowler into .tools/prowler-venv
# the first time (a few minutes); a scan takes about a minute.
#
#   scripts/scan.sh [SPEC]        SCAN_MOTO_PORT (default 4577) to change the emulator's port,
#                                 SCAN_KEEP=DIR to keep Prowler's findings (JSON, OCSF) there
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

SERVICES="s3 awslambda iam cloudfront cognito wafv2 guardduty"
echo "scan: prowler $PROWLER_VERSION, services $SERVICES, regions $REGION and us-east-1" >&2
CHECKS=$("$PROWLER_VENV/bin/prowler" aws --list-checks-json --services $SERVICES --no-banner |
  python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["aws"]))')
# us-east-1 too: CloudFront's web ACLs live there.
"$PROWLER_VENV/bin/prowler" aws --checks $CHECKS -f "$REGION" us-east-1 \
  --output-formats json-ocsf -o "$work/out" --no-banner --ignore-exit-code-3 \
  >"$work/prowler.log" 2>&1 || { cat "$work/prowler.log" >&2; exit 1; }

if [ -n "${SCAN_KEEP:-}" ]; then
  mkdir -p "$SCAN_KEEP" && cp "$work"/out/*.ocsf.json "$SCAN_KEEP"/
fi

# The ids AWS chose for the stack's distribution and user pool, which their ARNs hold.
IDS=$("$BIN" --spec "$SPEC" --output json outputs | .tools/venv/bin/python -c '
import boto3, json, os, sys
out = json.load(sys.stdin)
ids = [out.get("user_pool_id") or ""]
cf = boto3.client("cloudfront", region_name="us-east-1")
for d in cf.list_distributions()["DistributionList"].get("Items", []):
    if "https://" + d["DomainName"] + "/" == out["website_url"]:
        ids.append(d["Id"])
print(" ".join(i for i in ids if i))')

# Only the stack's own resources: named after the stack, or holding the ids AWS chose for them.
python3 - "$work/out" "$NAME" $IDS <<'EOF'
import glob, json, sys
out, name, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
rows, passed = [], 0
for f in glob.glob(f"{out}/*.ocsf.json"):
    for r in json.load(open(f)):
        uid = r["resources"][0]["uid"] if r.get("resources") else ""
        if name not in uid and not any(i in uid for i in ids):
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
