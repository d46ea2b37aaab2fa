# Shared by scripts/*: a project virtualenv with everything the tests and the demo need.
# Sourced, not executed. Installs on first use; cheap when already installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SMCONNECT_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

_need_apt=()
command -v ssh >/dev/null 2>&1 || _need_apt+=(openssh-client)
command -v tmux >/dev/null 2>&1 || _need_apt+=(tmux)
if [ "${#_need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "smconnect: installing ${_need_apt[*]} (apt)" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_need_apt[@]}" >/dev/null
    else
        echo "smconnect: please install: ${_need_apt[*]}" >&2
        exit 1
    fi
fi

_stamp="$VENV/.smconnect-installed"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON_BIN" -m venv "$VENV"
fi
if [ ! -f "$_stamp" ] || [ "$ROOT/pyproject.toml" -nt "$_stamp" ]; then
    echo "smconnect: installing Python dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev,emulator]"
    touch "$_stamp"
fi
# As root, the emulator runs a space's processes as `sagemaker-user`, who needs a Python of its
# own (docs/design/emulator-runtime.md); cheap when already built. Without it the emulator falls
# back to root with a warning, and only the tests of that user fail.
if [ "$(id -u)" = 0 ]; then
    bash "$ROOT/scripts/_space_venv.sh" || echo "smconnect: the space's Python was not built" >&2
fi
export PATH="$VENV/bin:$PATH"
