#!/usr/bin/env bash
# Install what presign-stack's local workflow needs into .tools/ (once): moto server, the AWS
# emulator the example and the tests run against, and cargo-lambda (with zig), which builds the
# presigner bundle; with --browser (scripts/test.sh), also what the rest of the suite needs:
# the IAM linters cloudsplaining and parliament and check-jsonschema (PyPI), Chromium
# (Debian's package, as root)
# and playwright-core (npm, without its own browser download). Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
PLAYWRIGHT_CORE_VERSION=1.65.1
# The accessibility check of the signed-in page (tests/browser/auth.spec.mjs).
AXE_CORE_VERSION=4.14.1
# IAM policy linters (tests/iam_linters.rs).
CLOUDSPLAINING_VERSION=0.9.1
PARLIAMENT_VERSION=1.6.4
# GitHub's workflow and action schemas, bundled (tests/release.rs checks .github/ and action.yml).
CHECK_JSONSCHEMA_VERSION=0.39.0
# The browser the tests drive: PRESIGN_STACK_CHROMIUM (any Chromium or Chrome), else Debian's.
CHROMIUM="${PRESIGN_STACK_CHROMIUM:-/usr/bin/chromium}"
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

[ "${1:-}" = "--browser" ] || exit 0
# The IAM linters the policy test runs (tests/iam_linters.rs), in a virtualenv of their own:
# their pinned dependencies are not moto's.
LINT_VENV=.tools/lint-venv
if [ ! -x "$LINT_VENV/bin/cloudsplaining" ] || [ ! -x "$LINT_VENV/bin/parliament" ]; then
  echo "bootstrap: installing cloudsplaining==$CLOUDSPLAINING_VERSION and" \
    "parliament==$PARLIAMENT_VERSION into $LINT_VENV" >&2
  python3 -m venv "$LINT_VENV"
  "$LINT_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "cloudsplaining==$CLOUDSPLAINING_VERSION" "parliament==$PARLIAMENT_VERSION"
fi
# check-jsonschema, with the schemas of GitHub's workflows and actions built in (offline).
SCHEMA_VENV=.tools/schema-venv
if [ ! -x "$SCHEMA_VENV/bin/check-jsonschema" ]; then
  echo "bootstrap: installing check-jsonschema==$CHECK_JSONSCHEMA_VERSION into $SCHEMA_VENV" >&2
  python3 -m venv "$SCHEMA_VENV"
  "$SCHEMA_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
# The browser test (tests/browser.rs) drives headless Chromium with playwright-core.
packages=()
[ -x "$CHROMIUM" ] || packages+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: the browser test needs ${packages[*]}; install them as root, e.g." >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing ${packages[*]} (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: playwright-core needs Node.js 20 or newer; found $(node --version). Install a" >&2
  echo "  newer Node.js (e.g. from https://nodejs.org or NodeSource) and run this again." >&2
  exit 1
fi
version_of() {
  node -p "require('./.tools/node_modules/$1/package.json').version" 2>/dev/null || true
}
if [ "$(version_of playwright-core)" != "$PLAYWRIGHT_CORE_VERSION" ] ||
  [ "$(version_of axe-core)" != "$AXE_CORE_VERSION" ]; then
  echo "bootstrap: installing playwright-core@$PLAYWRIGHT_CORE_VERSION and" \
    "axe-core@$AXE_CORE_VERSION into .tools" >&2
  # One install for both: npm drops from .tools what a --no-save install does not name.
  # Playwright's own browser builds are not used (the test runs $CHROMIUM): never fetch them.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-save --no-audit --no-fund \
    --prefix .tools "playwright-core@$PLAYWRIGHT_CORE_VERSION" "axe-core@$AXE_CORE_VERSION"
fi
