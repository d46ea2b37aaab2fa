#!/usr/bin/env bash
# The emulated space's Python: a venv every user can run, for the emulator's `sagemaker-user`
# (bridge/emulator/runtime/space_python.py, SPACE_VENV: keep the default path the same there).
# The project's venv often links to an interpreter under /root (mode 700), which that user
# cannot reach; this one is built from the system's /usr/bin/python3 with only what a space
# needs (jupyter-server, ipykernel). Idempotent: a stamp file makes a second run a no-op.
# Usage: scripts/_space_venv.sh [DIR]   (default /opt/smconnect/space-venv; run as root)
set -euo pipefail
SPACE_VENV="${1:-/opt/smconnect/space-venv}"
BASE_PYTHON=/usr/bin/python3
PACKAGES=(jupyter-server ipykernel)
_stamp="$SPACE_VENV/.smconnect-installed"
[ -f "$_stamp" ] && exit 0
if ! "$BASE_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "smconnect: installing python3-venv (apt)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
echo "smconnect: building the emulated space's Python in $SPACE_VENV" >&2
umask 022 # readable and runnable by every user
rm -rf "$SPACE_VENV"
mkdir -p "$(dirname "$SPACE_VENV")"
"$BASE_PYTHON" -m venv "$SPACE_VENV"
_log="$(mktemp)"
if ! "$SPACE_VENV/bin/python" -m pip install -q "${PACKAGES[@]}" >"$_log" 2>&1; then
    cat "$_log" >&2
    rm -f "$_log"
    exit 1
fi
rm -f "$_log"
touch "$_stamp"
