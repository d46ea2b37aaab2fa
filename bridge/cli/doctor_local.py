"""doctor's checks of this machine that the ssh config and credentials depend on: which home
OpenSSH reads, which keyring holds AWS keys, and which smconnect the ProxyCommand runs.

Each answers a question a ✓ elsewhere could hide: ``smconnect ssh-config install`` writes under
``$HOME``, but OpenSSH reads ``~/.ssh/config`` from the passwd entry's home, so with a different
``$HOME`` (sudo -E, some containers, a test) plain ``ssh sm-demo`` finds no host; a keyring
backend can be a plaintext file; and a ProxyCommand written from another shell may run the same
binary with another profile or endpoint.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shlex
from pathlib import Path

from bridge.ssh.include import include_line
from bridge.ssh.paths import SshPaths

OPENSSH_HOME_ENV = "SMCONNECT_OPENSSH_HOME"

# keyring backends that keep secrets in a file anyone reading the user's files can read.
PLAINTEXT_BACKENDS = frozenset({"keyrings.alt.file.PlaintextKeyring"})
NO_BACKEND_PREFIXES = ("keyring.backends.fail.", "keyring.backends.null.")
REAL_KEYRING_FIX = (
    "use the OS keyring: macOS Keychain and Windows Credential Locker are built in; on Linux run "
    "a Secret Service (gnome-keyring or KWallet) in your session, or at least pick an encrypted "
    "store with PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring"
)


def openssh_home() -> Path:
    """The home whose ``.ssh/config`` OpenSSH reads: the passwd entry's (OpenSSH ignores
    ``$HOME``), unless ``SMCONNECT_OPENSSH_HOME`` says where ssh's config really comes from."""
    override = os.environ.get(OPENSSH_HOME_ENV, "").strip()
    return Path(override) if override else Path(pwd.getpwuid(os.getuid()).pw_dir)


def openssh_home_problem(paths: SshPaths) -> tuple[str, str] | None:
    """(problem, fix) when plain ``ssh`` reads a config that does not include ours."""
    home = openssh_home()
    config = home / ".ssh" / "config"
    if config.resolve() == paths.user_config.resolve():
        return None
    line = include_line(paths)
    try:
        if line in config.read_bytes():
            return None
    except OSError:
        pass
    return (
        f"OpenSSH reads {config} (your passwd entry's home), not {paths.user_config} "
        f"($HOME={Path.home()}): plain `ssh` will not find smconnect's hosts",
        f"put `{line.decode()}` first in {config}, or run ssh with "
        f"`-F {paths.user_config}` (VS Code: the remote.SSH.configFile setting)",
    )


def keyring_check() -> tuple[str, str | None, str | None]:
    """(what the backend is, problem or None, fix or None). A plaintext or missing backend is
    a problem only once a profile keeps its keys there (``smconnect configure``); before that
    the detail still says plainly what ``configure`` would use."""
    name, kind = _backend()
    used = keyring_profiles()
    if kind == "plaintext":
        if used:
            return (
                name,
                f"profile {', '.join(used)} keeps its AWS keys in {name}, a plaintext file store: "
                "anyone who can read your files can read them",
                REAL_KEYRING_FIX,
            )
        return (f"{name}, a plaintext file store; no profile keeps keys in it", None, None)
    if kind == "none":
        if used:
            return (
                name,
                f"profile {', '.join(used)} needs a keyring, and none is usable",
                REAL_KEYRING_FIX,
            )
        return (f"{name}; only profiles set up with `smconnect configure` need one", None, None)
    return (name, None, None)


def keyring_profiles() -> list[str]:
    """The profiles in ~/.aws/config whose keys smconnect keeps in the keyring."""
    from bridge.aws import awsconfig
    from bridge.aws.credentials import is_keyring_profile

    names = [
        section.removeprefix("profile ").strip()
        for section in awsconfig.read_config()
        if section == "default" or section.startswith("profile ")
    ]
    return sorted(n for n in names if is_keyring_profile(n))


def _backend() -> tuple[str, str]:
    """The keyring backend's description and kind: ``os``, ``plaintext`` or ``none``."""
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a PYTHON_KEYRING_BACKEND that cannot load raises anything
        return (f"none usable ({type(exc).__name__}: {exc})", "none")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    where = getattr(backend, "file_path", None)
    chained = getattr(backend, "backends", None)
    if name in PLAINTEXT_BACKENDS:
        return (f"{name} ({where})", "plaintext")
    if name.startswith(NO_BACKEND_PREFIXES) or (
        name.startswith("keyring.backends.chainer.") and not chained
    ):
        return (f"none usable ({name})", "none")
    if chained:
        name += " (" + ", ".join(type(b).__name__ for b in chained) + ")"
    return (name + (f", file {where}" if where else ""), "os")


def proxy_difference(our_config: Path, expected: tuple[str, ...]) -> str | None:
    """What the installed ProxyCommand runs, where it differs from what this shell would
    install (the binary, ``--profile``, ``--region``, ``--endpoint-url``); None if it cannot
    tell or nothing differs."""
    try:
        text = our_config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0].lower() == "proxycommand":
            try:
                installed = _context(shlex.split(words[1].replace("%%", "%")))
            except ValueError:
                return None
            return _runs_otherwise(installed, _context(list(expected)))
    return None


def identity_difference(
    theirs: tuple[str | None, str | None, str | None],
    mine: tuple[str | None, str | None, str | None],
) -> str | None:
    """How the ProxyCommand of hosts installed for another (profile, region, endpoint) differs
    from this shell's, in ``proxy_difference``'s words; None if it does not."""
    return _runs_otherwise(_flags(theirs), _flags(mine))


def _flags(identity: tuple[str | None, str | None, str | None]) -> dict[str, str]:
    names = ("--profile", "--region", "--endpoint-url")
    return {flag: value for flag, value in zip(names, identity, strict=True) if value}


def _runs_otherwise(installed: dict[str, str], want: dict[str, str]) -> str | None:
    """``the ProxyCommand runs KEY VALUE (this shell: VALUE); …`` for each key that differs."""
    diffs = [
        f"{key} {installed.get(key) or '(none)'} (this shell: {want.get(key) or '(none)'})"
        for key in ("smconnect", "--profile", "--region", "--endpoint-url")
        if installed.get(key) != want.get(key)
    ]
    return "the ProxyCommand runs " + "; ".join(diffs) if diffs else None


def _context(argv: list[str]) -> dict[str, str]:
    """The binary and context options of a ProxyCommand argv (up to ``proxy``)."""
    found = {"smconnect": argv[0]} if argv else {}
    for option, value in itertools.pairwise(argv[1:]):
        if option == "proxy":
            break
        if option in ("--profile", "--region", "--endpoint-url"):
            found[option] = value
    return found
