# Sourced by the scripts: put the repo's tools first on PATH and point the AWS SDK at a local
# emulator with dummy credentials, so nothing here can touch a real account.
TOOLS_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/venv/bin"
export PATH="$TOOLS_BIN:$PATH"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-eu-central-1}"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
