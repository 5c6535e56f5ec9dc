#!/usr/bin/env bash
# The presigner against its peer, the seed article's Python handler (boto3's
# generate_presigned_url), measured in the same run on this machine, loopback only:
#   - cold start: process start to the first answer, through the Lambda Runtime API
#     (lambda-bundle/tests/support/runtime_api.rs), a fresh process per run;
#   - presigns per second of one warm process pinned to one core, through the same loop: per
#     CPU-second the function used (the "per core" figure: it leaves out waiting for the
#     emulator and other load on the machine) and per wall-clock second;
#   - presigns per CPU-second in-process, without the Runtime API (presigner::handle, and the
#     peer's handler called from Python);
#   - the zipped bundle's size.
# The function runs on core 0 (taskset -c 0), the emulator on core 1.
# Usage: scripts/bench-presigner.sh [cold-runs (20)] [seconds per throughput run (3)]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${1:-20}
SECONDS_PER_RUN=${2:-3}

scripts/bootstrap.sh # cargo-lambda
source scripts/env.sh # puts it on PATH
PEER_VENV=.tools/peer-venv
# The peer runs under the runtime interface client of Lambda's Python images (awslambdaric),
# with boto3 (which Lambda's Python runtimes include) and nothing else beside them.
if ! "$PEER_VENV/bin/python" -c "import awslambdaric, boto3" 2>/dev/null; then
  echo "bench: installing awslambdaric and boto3 into $PEER_VENV" >&2
  python3 -m venv "$PEER_VENV"
  "$PEER_VENV/bin/pip" install --quiet --disable-pip-version-check awslambdaric==4.2.2 boto3==1.44.8
fi
PEER_PY="$PWD/$PEER_VENV/bin/python"
PEER_VERSIONS=$("$PEER_PY" -c 'import sys, boto3; print("Python %d.%d, boto3 %s" % (sys.version_info[0], sys.version_info[1], boto3.__version__))')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "bench: building the bundle (cargo lambda build --release --output-format zip) and the driver" >&2
(cd lambda-bundle && CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s} cargo lambda build --release --output-format zip --lambda-dir "$work/lambda" >"$work/build.log" 2>&1) || {
  cat "$work/build.log" >&2
  exit 1
}
cargo build --release --quiet -p presign-stack-presigner --example bench
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BENCH="$TARGET_DIR/release/examples/bench"
ZIP="$work/lambda/bootstrap/bootstrap.zip"
mkdir "$work/fn"
unzip -q "$ZIP" -d "$work/fn"

# What Lambda sets, plus the provisioner's variables; dummy credentials (nothing leaves the host).
export AWS_LAMBDA_FUNCTION_NAME=presigner AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
  AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_REGION=eu-central-1 \
  AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
  AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEXAMPLEsessiontoken AWS_EC2_METADATA_DISABLED=true \
  PRESIGNER_BUCKET=acme-docs-files PRESIGNER_UPLOADS_PREFIX=uploads/ \
  PRESIGNER_URL_EXPIRY_SECONDS=300 PRESIGNER_MAX_UPLOAD_BYTES=10485760 \
  PRESIGNER_ALLOWED_CONTENT_TYPES=image/png,image/jpeg,application/pdf PRESIGNER_ALLOW_DOWNLOADS=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL PRESIGNER_S3_ENDPOINT

PRESIGNER=(taskset -c 0 "$work/fn/bootstrap")
# Lambda's Python images start `python -m awslambdaric <module.function>` in the task root.
PEER=(taskset -c 0 "$PEER_PY" -m awslambdaric handler.handler)
cd bench/peer
drive() { timeout 600 taskset -c 1 "$BENCH" "$@"; }

echo "bench: cold starts, $RUNS runs each" >&2
p_cold=$(drive cold "$RUNS" "${PRESIGNER[@]}")
q_cold=$(drive cold "$RUNS" "${PEER[@]}")
# With `auth`: an issuer on loopback (core 1) serving discovery and the test keys' JWKS. Cold
# start to a 401 for a token refused before any key is read (what `auth` adds to start-up),
# and to a 200 for a good token, which includes reading discovery and the JWKS once (plain
# HTTP on loopback here: a real issuer adds a TLS handshake and its round trips).
ISSUER_DIR="$work/issuer"
mkdir -p "$ISSUER_DIR/pool/.well-known"
ISSUER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ISS="http://127.0.0.1:$ISSUER_PORT/pool"
printf '{"issuer": "%s", "jwks_uri": "%s/jwks.json"}' "$ISS" "$ISS" >"$ISSUER_DIR/pool/.well-known/openid-configuration"
python3 -c 'import json,sys; k=json.load(open(sys.argv[1])); print(json.dumps({"keys": list(k.values())}))' \
  "$REPO/lambda-bundle/tests/fixtures/keys/public-jwks.json" >"$ISSUER_DIR/pool/jwks.json"
taskset -c 1 python3 -m http.server "$ISSUER_PORT" --bind 127.0.0.1 --directory "$ISSUER_DIR" >/dev/null 2>&1 &
ISSUER_PID=$!
trap 'kill $ISSUER_PID 2>/dev/null; rm -rf "$work"' EXIT
until python3 -c "import urllib.request; urllib.request.urlopen('$ISS/jwks.json')" 2>/dev/null; do sleep 0.1; done
TOKEN=$("$BENCH" token "$REPO/lambda-bundle/tests/fixtures/keys/rsa-a.pem" rsa-a "$ISS" spa)
echo "bench: cold starts with auth, $RUNS runs each" >&2
a_refused=$(PRESIGNER_AUTH_ISSUER=$ISS PRESIGNER_AUTH_AUDIENCES=spa BENCH_TOKEN=not-a-token BENCH_STATUS=401 \
  drive cold "$RUNS" "${PRESIGNER[@]}")
a_first=$(PRESIGNER_AUTH_ISSUER=$ISS PRESIGNER_AUTH_AUDIENCES=spa BENCH_TOKEN=$TOKEN \
  drive cold "$RUNS" "${PRESIGNER[@]}")
echo "bench: warm throughput, ${SECONDS_PER_RUN}s each" >&2
p_warm=$(drive warm "$SECONDS_PER_RUN" "${PRESIGNER[@]}")
q_warm=$(drive warm "$SECONDS_PER_RUN" "${PEER[@]}")
echo "bench: in-process throughput, ${SECONDS_PER_RUN}s each" >&2
p_inproc=$(timeout 600 taskset -c 0 "$BENCH" handle "$SECONDS_PER_RUN")
q_inproc=$(timeout 600 taskset -c 0 "$PEER_PY" - "$SECONDS_PER_RUN" <<'EOF'
import json, sys, time
from handler import handler
event = {"body": json.dumps({"filename": "report.pdf", "contentType": "application/pdf", "size": 48213})}
seconds, count = float(sys.argv[1]), 0
start, cpu_start = time.perf_counter(), time.process_time()
while True:
    for _ in range(64):
        assert handler(event, None)["statusCode"] == 200
    count += 64
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        cpu = time.process_time() - cpu_start
        print(f"calls={count} per_second={count / elapsed:.0f} per_cpu_second={count / cpu:.0f}")
        break
EOF
)
cd ../..

python3 - "$ZIP" "$PEER_VENV" "$RUNS" "$PEER_VERSIONS" "$p_cold" "$q_cold" "$p_warm" "$q_warm" "$p_inproc" "$q_inproc" "$a_refused" "$a_first" <<'EOF'
import glob, io, os, sys, zipfile

zip_path, venv, runs, peer = sys.argv[1:5]
p_cold, q_cold, p_warm, q_warm, p_in, q_in, a_refused, a_first = (
    dict(kv.split("=") for kv in line.split()) for line in sys.argv[5:13]
)

def zipped(files):
    """Size of a deflated zip of (path on disk, name in zip) pairs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, name in files:
            z.write(path, name)
    return buf.tell()

handler = [("bench/peer/handler.py", "handler.py")]
site = glob.glob(f"{venv}/lib/python3*/site-packages")[0]
vendored = list(handler)
for pkg in ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py"]:
    top = os.path.join(site, pkg)
    paths = [top] if os.path.isfile(top) else [
        os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs if "__pycache__" not in d
    ]
    vendored += [(p, os.path.relpath(p, site)) for p in paths]

p_zip, q_zip, q_zip_vendored = os.path.getsize(zip_path), zipped(handler), zipped(vendored)

def faster(p, q):  # times: lower is better
    return f"{q / p:.1f}x faster"

def more(p, q):  # rates: higher is better
    return f"{p / q:.1f}x the peer's"

def size(p, q):
    return f"{p / q:.2f}x the peer's" if p < q else f"{p / q:.0f}x the peer's"

kb = lambda b: f"{b / 1024:,.1f} KiB"
rows = [
    (f"cold start, median of {runs} (ms)", p_cold["median_ms"], q_cold["median_ms"],
     faster(float(p_cold["median_ms"]), float(q_cold["median_ms"]))),
    (f"cold start, p90 of {runs} (ms)", p_cold["p90_ms"], q_cold["p90_ms"],
     faster(float(p_cold["p90_ms"]), float(q_cold["p90_ms"]))),
    ("presigns per CPU-second, warm process, via Runtime API", p_warm["per_cpu_second"],
     q_warm["per_cpu_second"], more(float(p_warm["per_cpu_second"]), float(q_warm["per_cpu_second"]))),
    ("presigns/s wall clock, same runs (function on core 0, emulator on core 1)",
     p_warm["per_second"], q_warm["per_second"],
     more(float(p_warm["per_second"]), float(q_warm["per_second"]))),
    ("presigns per CPU-second, in-process (handler alone)", p_in["per_cpu_second"],
     q_in["per_cpu_second"], more(float(p_in["per_cpu_second"]), float(q_in["per_cpu_second"]))),
    ("zipped bundle (boto3 from the runtime)", kb(p_zip), kb(q_zip), size(p_zip, q_zip)),
    ("zipped bundle (boto3 vendored)", kb(p_zip), kb(q_zip_vendored), size(p_zip, q_zip_vendored)),
]
print(f"| measure | presigner (Rust) | peer ({peer}) | presigner vs peer |")
print("|---|---:|---:|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(f"With `auth` (same bundle, same runs; no peer has this):")
print("| measure | median (ms) | p90 (ms) |")
print("|---|---:|---:|")
print(f"| cold start, open presigner (as above) | {p_cold['median_ms']} | {p_cold['p90_ms']} |")
print(f"| cold start to a 401, token refused before any key is read | {a_refused['median_ms']} | {a_refused['p90_ms']} |")
print(f"| cold start to a 200 with a good token, discovery and JWKS read once (loopback HTTP) | {a_first['median_ms']} | {a_first['p90_ms']} |")
fetch = float(a_first["median_ms"]) - float(a_refused["median_ms"])
print(f"| first key fetch and verification, the difference of the medians | {fetch:.2f} | |")
EOF
echo
echo "Machine: $(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
