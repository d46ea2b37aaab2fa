"""SFTP on the space's real filesystem, with relative paths starting in the user's home.

Without this, relative paths (and the ``.`` that ``sftp`` resolves at login) would start in the
emulator process's working directory, which means nothing inside a space. It runs in the
emulator's process; with a space user (``space_user``), what it creates is handed to that user,
as if the user's own sftp-server had made it.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import asyncssh

from bridge.emulator.runtime.space_user import SpaceUser


class HomeSFTPServer(asyncssh.SFTPServer):
    def __init__(
        self,
        chan: asyncssh.SSHServerChannel[bytes],
        *,
        home: Path,
        user: SpaceUser | None = None,
    ) -> None:
        super().__init__(chan)
        self._home = os.fsencode(home)
        self._user = user

    def map_path(self, path: bytes) -> bytes:
        return posixpath.join(self._home, path)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        local = self.map_path(path)  # asyncssh maps inside open and mkdir too
        created = self._user is not None and not os.path.lexists(local)
        handle = super().open(path, pflags, attrs)
        if created and self._user is not None:
            self._user.own(local)
        return handle

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        super().mkdir(path, attrs)
        if self._user is not None:
            self._user.own(self.map_path(path))

    def exit(self) -> None:
        # sshd reports status 0 when an sftp subsystem ends; asyncssh just closes the channel,
        # and OpenSSH's scp (SFTP mode) then fails with status 1 after a good copy.
        self.channel.exit(0)
