"""The command an ssh ProxyCommand runs: this smconnect, with the AWS context it was set up for.

Kept apart from the daemon so that building the ssh config needs no boto3 or asyncssh.
"""

from __future__ import annotations

import os
import shutil
import sys

__all__ = ["smconnect_command"]


def smconnect_command(
    *, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> tuple[str, ...]:
    """The argv prefix of the ProxyCommand: the smconnect beside this interpreter (else the
    one on PATH), then the context options ``bridge.__main__`` accepts before ``proxy``."""
    beside = os.path.join(os.path.dirname(sys.executable), "smconnect")
    exe = beside if os.access(beside, os.X_OK) else (shutil.which("smconnect") or beside)
    argv: list[str] = [os.path.abspath(exe)]
    if profile:
        argv += ["--profile", profile]
    if region:
        argv += ["--region", region]
    if endpoint_url:
        argv += ["--endpoint-url", endpoint_url]
    return tuple(argv)
