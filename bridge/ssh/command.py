"""The command an ssh ProxyCommand runs: this smconnect (each host adds its AWS identity).

Kept apart from the daemon so that building the ssh config needs no boto3 or asyncssh.
"""

from __future__ import annotations

import os
import shutil
import sys

__all__ = ["smconnect_command"]


def smconnect_command() -> tuple[str, ...]:
    """The argv prefix of the ProxyCommand: this interpreter in isolated mode without ``site``
    running ``bridge/proxy_start.py`` (a faster start on every ssh connection than the console
    script: see that file), else the smconnect beside this interpreter (else the one on PATH).
    Each host adds its own identity's context options after it
    (``bridge.ssh.hosts.HostIdentity.args``), which both accept before ``proxy``."""
    start = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy_start.py")
    start = os.path.normpath(start)
    if sys.executable and os.path.isabs(sys.executable) and os.path.isfile(start):
        return (sys.executable, "-I", "-S", start)
    beside = os.path.join(os.path.dirname(sys.executable), "smconnect")
    exe = beside if os.access(beside, os.X_OK) else (shutil.which("smconnect") or beside)
    return (os.path.abspath(exe),)
