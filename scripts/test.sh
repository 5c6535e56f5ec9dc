#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every test of the workspace, those
# that plain `cargo test` leaves out included (they need moto, Chromium or cargo-lambda, which
# this script installs). Each such test starts its own moto server on a free loopback port;
# tests/dev.rs and tests/browser.rs start `presign-stack dev` (the latter drives it with
# headless Chromium). Arguments go to `cargo test` (e.g. `--test stack`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --browser
source scripts/env.sh
export PRESIGN_STACK_MOTO="$REPO_DIR/scripts/moto-server"
# A one-shot build gains nothing from incremental artefacts, which would double the target dir.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-targets --no-fail-fast "$@" -- --include-ignored 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ {p += $4; f += $6} END {printf "tests: %d passed, %d failed\n", p, f}' "$log"
exit "$status"
