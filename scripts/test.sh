#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every test of the workspace. Each
# integration test starts its own moto server on a free loopback port; tests/dev.rs and
# tests/browser.rs start `presign-stack dev` (the latter drives it with headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --browser
source scripts/env.sh
export PRESIGN_STACK_MOTO="$TOOLS_BIN/moto_server"
# A one-shot build gains nothing from incremental artefacts, which would double the target dir.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace --all-targets --no-fail-fast "$@"
