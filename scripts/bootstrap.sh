#!/usr/bin/env bash
# Install what presign-stack's local workflow needs into .tools/ (once): moto server, the AWS
# emulator the example and the tests run against, and cargo-lambda (with zig), which builds the
# presigner bundle. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
VENV=.tools/venv

if ! command -v cargo >/dev/null; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs first" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  python3 -m venv "$VENV" || {
    echo "error: python3 -m venv failed; install python3 and python3-venv" >&2
    exit 1
  }
fi
want=()
"$VENV/bin/python" -c "import moto, flask" 2>/dev/null && [ -x "$VENV/bin/moto_server" ] \
  || want+=("moto[server]==$MOTO_VERSION")
[ -x "$VENV/bin/cargo-lambda" ] || want+=("cargo-lambda==$CARGO_LAMBDA_VERSION")
if [ ${#want[@]} -gt 0 ]; then
  echo "bootstrap: installing ${want[*]} into $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
fi
