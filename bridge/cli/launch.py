"""Handing over to the user's tools: ``ssh`` (exec'd, so it owns the terminal) and the editor.

The ssh config the daemon maintains makes ``ssh <host>`` work from any terminal, so the CLI
never opens a data channel itself: it replaces its own process with ssh, whose ProxyCommand
asks the daemon for the channel.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from bridge.cli.errors import CliError, ExitCode
from bridge.ssh.paths import SshPaths

EDITOR_ENV = "SMCONNECT_EDITOR"
EDITOR_CANDIDATES = ("code", "code-insiders", "cursor")
REMOTE_SSH_EXTENSIONS = frozenset({"ms-vscode-remote.remote-ssh", "anysphere.remote-ssh"})
SSH_MISSING = "ssh was not found on PATH; install OpenSSH (e.g. `apt install openssh-client`)"


def ssh_binary() -> str:
    found = shutil.which("ssh")
    if found is None:
        raise CliError(SSH_MISSING, ExitCode.SSH)
    return found


def exec_ssh(host: str, command: Sequence[str] = (), options: Sequence[str] = ()) -> NoReturn:
    """Become ``ssh [options] host [command…]``: a real interactive ssh with the user's pty."""
    ssh = ssh_binary()
    argv = ["ssh", *_config_file_args(), *options, host, *command]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(ssh, argv)  # noqa: S606 (replacing ourselves with ssh is the point)
    except OSError as exc:
        raise CliError(f"cannot run {ssh}: {exc.strerror or exc}", ExitCode.SSH) from None


def _config_file_args() -> list[str]:
    """``-F <config>`` when $HOME is not the passwd home directory.

    ssh finds ``~/.ssh/config`` through the passwd entry, not $HOME, while smconnect (like
    VS Code) writes under $HOME; when the two differ, point ssh at the file we maintain.
    """
    import pwd

    ours = SshPaths.for_home().user_config
    try:
        passwd_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return []
    if SshPaths.for_home(passwd_home).user_config == ours or not ours.exists():
        return []
    return ["-F", str(ours)]


@dataclass(frozen=True)
class Editor:
    argv: tuple[str, ...]  # the command, with any arguments SMCONNECT_EDITOR gave

    @property
    def name(self) -> str:
        return os.path.basename(self.argv[0])


class EditorNotFound(CliError):
    pass


def find_editor() -> Editor | None:
    """``$SMCONNECT_EDITOR`` (``none`` turns editors off), else the first of code,
    code-insiders, cursor on PATH."""
    override = os.environ.get(EDITOR_ENV, "").strip()
    if override.lower() in ("none", "off", "false", "0"):
        return None
    if override:
        argv = shlex.split(override)
        found = shutil.which(argv[0]) if argv else None
        if found is None:
            raise EditorNotFound(
                f"{EDITOR_ENV}={override!r}, but {argv[0] if argv else override!r} is not on "
                "PATH; fix the variable, or set it to `none`"
            )
        return Editor((found, *argv[1:]))
    for name in EDITOR_CANDIDATES:
        found = shutil.which(name)
        if found is not None:
            return Editor((found,))
    return None


def open_folder(editor: Editor, folder_uri: str, timeout: float = 120.0) -> None:
    """``code --folder-uri vscode-remote://ssh-remote+<host>/home/sagemaker-user``; the editor
    CLI hands the window to the running instance and returns."""
    argv = [*editor.argv, "--folder-uri", folder_uri]
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliError(f"cannot run {editor.name}: {exc}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CliError(
            f"{editor.name} exited with status {proc.returncode}"
            + (f": {detail[-1]}" if detail else "")
        )


def editor_extensions(editor: Editor, timeout: float = 60.0) -> set[str]:
    proc = subprocess.run(
        [*editor.argv, "--list-extensions"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise CliError(f"`{editor.name} --list-extensions` exited with status {proc.returncode}")
    return {ln.strip().lower() for ln in proc.stdout.decode("utf-8", "replace").splitlines()}
