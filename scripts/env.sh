# Sourced by the scripts: put the repo's tools first on PATH and point the AWS SDK at a local
# emulator with dummy credentials, so nothing here can touch a real account.
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$REPO_DIR/.tools/venv/bin"
export PATH="$TOOLS_BIN:$PATH"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-eu-central-1}"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE

# Start moto on $1 in the background unless something already answers there; sets MOTO_PID
# when it started one (the caller stops it), and returns once the endpoint answers.
start_moto() {
  local url="http://127.0.0.1:$1" log="$2"
  MOTO_PID=""
  if ! curl -sf "$url/moto-api/" >/dev/null 2>&1; then
    "$REPO_DIR/scripts/moto-server" -H 127.0.0.1 -p "$1" >"$log" 2>&1 &
    MOTO_PID=$!
  fi
  for _ in $(seq 1 100); do
    curl -sf "$url/moto-api/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: moto did not answer on $url (log: $log)" >&2
  return 1
}
