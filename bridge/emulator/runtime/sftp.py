"""SFTP on the space's real filesystem, with relative paths starting in the user's home.

Without this, relative paths (and the ``.`` that ``sftp`` resolves at login) would start in the
emulator process's working directory, which means nothing inside a space.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import asyncssh


class HomeSFTPServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], *, home: Path) -> None:
        super().__init__(chan)
        self._home = os.fsencode(home)

    def map_path(self, path: bytes) -> bytes:
        return posixpath.join(self._home, path)

    def exit(self) -> None:
        # sshd reports status 0 when an sftp subsystem ends; asyncssh just closes the channel,
        # and OpenSSH's scp (SFTP mode) then fails with status 1 after a good copy.
        self.channel.exit(0)
