"""The command an ssh ProxyCommand runs: this smconnect (each host adds its AWS identity).

Kept apart from the daemon so that building the ssh config needs no boto3 or asyncssh.
"""

from __future__ import annotations

import os
import shutil
import sys

__all__ = ["smconnect_command"]


def smconnect_command() -> tuple[str, ...]:
    """The argv prefix of the ProxyCommand: the smconnect beside this interpreter (else the
    one on PATH). Each host adds its own identity's context options after it
    (``bridge.ssh.hosts.HostIdentity.args``), which ``bridge.__main__`` accepts before ``proxy``."""
    beside = os.path.join(os.path.dirname(sys.executable), "smconnect")
    exe = beside if os.access(beside, os.X_OK) else (shutil.which("smconnect") or beside)
    return (os.path.abspath(exe),)
