"""Asking the real OpenSSH client (``ssh -G``) what it makes of the user's configuration.

Users should learn about a broken or overriding ssh config from smconnect, with ssh's own words,
not from a failed connection: the manager runs ``ssh -G`` before writing (does ssh accept the
user's file at all?) and after (does ssh apply our settings to our hosts?).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bridge.ssh.aliases import host_key_alias
from bridge.ssh.errors import (
    INSTALL_COMMAND,
    NotEffectiveError,
    SshConfigError,
    SshNotFoundError,
    UserConfigSyntaxError,
)
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

# ssh says "<file>: line <n>: <message>" or "<file> line <n>: <message>", depending on the check.
_SSH_LINE_RE = re.compile(r"^(?P<file>.+?):? line (?P<line>\d+): (?P<message>.*)$")


def _syntax_error(stderr: str) -> UserConfigSyntaxError:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        m = _SSH_LINE_RE.match(ln)
        if m:
            return UserConfigSyntaxError(m.group("message"), m.group("file"), int(m.group("line")))
    return UserConfigSyntaxError(lines[0] if lines else "ssh exited with status 255")


def find_ssh(binary: str) -> str:
    """The OpenSSH client's path, or ``SshNotFoundError`` naming how to install it."""
    found = shutil.which(binary)
    if found is None:
        raise SshNotFoundError(
            f"the OpenSSH client ({binary!r}) is not on PATH; install OpenSSH "
            "(e.g. `apt install openssh-client`) and try again"
        )
    return found


def sample_host(prefix: str) -> str:
    """A host name only our wildcard matches: "_" followed by non-hex never comes out of
    ``alias_for``."""
    return f"{prefix}_smconnect-check"


def effective_config(ssh: str, user_config: Path, host: str, timeout: float) -> dict[str, str]:
    """``ssh -G`` for ``host`` as the user's config resolves it (only the first value of a
    repeated key is kept, like ssh itself uses it)."""
    argv = [ssh, "-T", "-G", "-F", str(user_config), host]
    if not user_config.exists():
        argv[4] = "none"
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise SshNotFoundError(
            f"the OpenSSH client ({ssh}) could not be run; reinstall OpenSSH"
        ) from None
    except subprocess.TimeoutExpired:
        raise SshConfigError(
            f"`ssh -G {host}` did not answer within {timeout:.0f} s; check "
            "Match exec lines in your ssh config"
        ) from None
    if proc.returncode != 0:
        raise _syntax_error(proc.stderr.decode("utf-8", "replace"))
    out: dict[str, str] = {}
    for line_text in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        key, _, value = line_text.partition(" ")
        out.setdefault(key, value)
    return out


def check_effective(
    ssh: str,
    paths: SshPaths,
    options: ConfigOptions,
    hosts: Mapping[str, str],
    timeout: float,
) -> None:
    """Whether ssh applies our settings to these aliases (each with the ProxyCommand given for
    it) and to a name only the wildcard matches; raise ``NotEffectiveError`` or
    ``UserConfigSyntaxError`` if not."""
    sample = sample_host(options.prefix)
    for alias, proxy_command in (*hosts.items(), (sample, options.proxy_command)):
        explicit = alias != sample
        got = effective_config(ssh, paths.user_config, alias, timeout)
        want = {
            "user": options.user,
            "proxycommand": proxy_command,
            "userknownhostsfile": paths.known_hosts.as_posix(),
            "stricthostkeychecking": "true",
            "hostkeyalias": host_key_alias(alias) if explicit else None,
        }
        for key, value in want.items():
            if got.get(key) != value:
                raise NotEffectiveError(
                    f"ssh does not use smconnect's {key} for {alias} (it has "
                    f"{got.get(key, 'nothing')!r}); something in {paths.user_config} "
                    f"overrides it: run `{INSTALL_COMMAND}`"
                )
