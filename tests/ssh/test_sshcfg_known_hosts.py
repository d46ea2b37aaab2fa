"""Our known_hosts file: replace/remove by alias, and what the real ssh client makes of it."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import asyncssh
import pytest

from bridge import fsutil
from bridge.ssh.aliases import SpaceRef
from bridge.ssh.config import SshConfig
from bridge.ssh.known_hosts import KeyMemo, KnownHosts, KnownHostsError
from bridge.ssh.paths import SshPaths
from bridge.ssh.render import ConfigOptions

from .sshcfg_helpers import SPACES, write_user_config


def _key() -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()


def _bare(key_line: str) -> str:
    return " ".join(key_line.split()[:2])


def test_set_replaces_and_remove_forgets(paths: SshPaths) -> None:
    kh = KnownHosts.for_paths(paths)
    first, second, other = _key(), _key(), _key()
    assert kh.get("sm-demo") == ()
    assert kh.set_host_key("sm-demo", first)
    assert kh.set_host_key("sm-other", other)
    assert kh.get("sm-demo") == (_bare(first),)
    assert not kh.set_host_key("sm-demo", first + " a comment")  # same key: no write
    assert kh.set_host_key("sm-Demo", second)  # same host, any case
    assert kh.get("sm-demo") == (_bare(second),)
    assert kh.get("sm-other") == (_bare(other),)
    assert paths.known_hosts.read_text() == (f"sm-demo {_bare(second)}\nsm-other {_bare(other)}\n")
    assert stat.S_IMODE(paths.known_hosts.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.smconnect_dir.stat().st_mode) == 0o700
    assert kh.hosts() == ("sm-demo", "sm-other")

    assert kh.remove_host("sm-demo")
    assert not kh.remove_host("sm-demo")
    assert kh.get("sm-demo") == ()
    assert paths.known_hosts.read_text() == f"sm-other {_bare(other)}\n"


def test_a_memo_answers_for_an_unchanged_file_without_reading_it(
    paths: SshPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon sets a space's key before every connection: when it set that key last and
    the file has not changed since, nothing is read or locked; any change makes it look."""
    kh = KnownHosts(paths.known_hosts, KeyMemo())
    key, other = _key(), _key()
    assert not kh.holds("sm-demo", [key])
    assert kh.set_host_key("sm-demo", key)
    assert kh.holds("sm-demo", [key]) and kh.holds("sm-Demo", [key + " comment"])
    assert not kh.holds("sm-demo", [other]) and not kh.holds("sm-other", [key])

    def no_read(path: Path) -> fsutil.Snapshot:
        raise AssertionError(f"{path} read although the memo holds its key")

    with monkeypatch.context() as patched:
        patched.setattr(fsutil, "read_snapshot", no_read)
        assert not kh.set_host_key("sm-demo", key)

    KnownHosts(paths.known_hosts).remove_host("sm-demo")  # another writer, without our memo
    assert not kh.holds("sm-demo", [key])
    assert kh.set_host_key("sm-demo", key)
    assert kh.get("sm-demo") == (_bare(key),)
    paths.known_hosts.write_text("")  # an edit in place: the same inode, another size
    assert not kh.holds("sm-demo", [key])
    assert not KnownHosts(paths.known_hosts).holds("sm-demo", [key])  # no memo: never


def test_several_key_types_for_one_host(paths: SshPaths) -> None:
    kh = KnownHosts.for_paths(paths)
    ed = _key()
    ecdsa = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key().decode()
    kh.set_host_keys("sm-demo", [ed, ecdsa])
    assert kh.get("sm-demo") == (_bare(ed), _bare(ecdsa))
    kh.set_host_key("sm-demo", ed)
    assert kh.get("sm-demo") == (_bare(ed),)


def test_lines_it_does_not_own_are_kept(paths: SshPaths) -> None:
    paths.smconnect_dir.mkdir(parents=True)
    foreign = "# a comment\n|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA\nhost-a,sm-demo ssh-rsa AAAA"
    paths.known_hosts.write_text(foreign)
    kh = KnownHosts.for_paths(paths)
    key = _key()
    kh.set_host_key("sm-new", key)
    # The line naming sm-demo among others is ours to replace only when sm-demo is set.
    assert paths.known_hosts.read_text() == foreign + f"\nsm-new {_bare(key)}\n"
    kh.remove_host("sm-demo")
    assert paths.known_hosts.read_text() == (
        "# a comment\n|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA\n" + f"sm-new {_bare(key)}\n"
    )
    kh.set_host_key("sm-new", key)  # unchanged key: the file stays byte for byte
    assert kh.get("sm-new") == (_bare(key),)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ssh-ed25519",
        "ssh-ed25519 not*base64",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFhFSam0Sd6Dp4C6SNVS2sfTfLu1ErUEE6tN0nzLfA/I",
        "ssh ed25519\nx AAAA",
    ],
)
def test_malformed_keys_are_refused(paths: SshPaths, bad: str) -> None:
    with pytest.raises(KnownHostsError) as exc:
        KnownHosts.for_paths(paths).set_host_key("sm-demo", bad)
    assert "\n" not in str(exc.value)
    assert not paths.known_hosts.exists()


@pytest.mark.parametrize("bad", ["", "sm demo", "sm-*", "a,b", "#x"])
def test_bad_alias_refused(paths: SshPaths, bad: str) -> None:
    with pytest.raises(KnownHostsError):
        KnownHosts.for_paths(paths).set_host_key(bad, _key())


def test_remove_when_nothing_exists_writes_nothing(paths: SshPaths) -> None:
    assert not KnownHosts.for_paths(paths).remove_host("sm-demo")
    assert not paths.known_hosts.exists()


# -- end to end: the real ssh client, our config, our known_hosts, a real SSH server ----------

FAKE_SMCONNECT = """#!{python}
import os, socket, sys, threading
with open(os.environ["SMC_TEST_LOG"], "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
s = socket.create_connection(("127.0.0.1", int(os.environ["SMC_TEST_PORT"])))
def up():
    while data := os.read(0, 65536):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := s.recv(65536):
    os.write(1, data)
"""


class _NoAuth(asyncssh.SSHServer):
    """Like the space's Go server: the SSM session is the authentication."""

    def begin_auth(self, username: str) -> bool:
        return False


async def _handle(process: asyncssh.SSHServerProcess[str]) -> None:
    process.stdout.write(f"hello {process.get_extra_info('username')}\n")
    process.exit(0)


async def _ssh(config: Path, host: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "ssh", "-F", str(config), "-o", "BatchMode=yes", host, "true",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_real_ssh_checks_our_known_hosts_strictly(tmp_path: Path, home: Path) -> None:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        _NoAuth, "127.0.0.1", 0, server_host_keys=[host_key], process_factory=_handle
    )
    port = server.sockets[0].getsockname()[1]
    try:
        fake = tmp_path / "bin dir" / "smconnect"
        fake.parent.mkdir()
        fake.write_text(FAKE_SMCONNECT.format(python=sys.executable))
        fake.chmod(0o755)
        log = tmp_path / "proxy.log"
        env = {**os.environ, "SMC_TEST_PORT": str(port), "SMC_TEST_LOG": str(log)}
        paths = SshPaths.for_home(home)
        write_user_config(paths.user_config, b"Host *\n  StrictHostKeyChecking no\n")
        spaces = [*SPACES, SpaceRef("Demo", "d-cccccccccccc")]
        options = ConfigOptions(smconnect_command=(str(fake),), fdpass=False)  # a relaying fake
        SshConfig(paths, options).install(spaces)
        kh = KnownHosts.for_paths(paths)
        right = host_key.export_public_key().decode()

        # No key learnt yet: strict checking refuses, and ssh adds nothing.
        rc, _, err = await _ssh(paths.user_config, "sm-Demo", env)
        assert rc == 255 and "Host key verification failed" in err
        assert not paths.known_hosts.exists()

        # The key learnt over the trusted channel: accepted, for a capitalised alias too.
        kh.set_host_key("sm-Demo", right)
        before = paths.known_hosts.read_bytes()
        rc, out, err = await _ssh(paths.user_config, "sm-Demo", env)
        assert (rc, out) == (0, "hello sagemaker-user\n"), err
        assert paths.known_hosts.read_bytes() == before  # ssh never writes it

        # A space listed nowhere yet goes through the wildcard, looked up by host name.
        kh.set_host_key("sm-fresh", right)
        rc, out, err = await _ssh(paths.user_config, "sm-fresh", env)
        assert (rc, out) == (0, "hello sagemaker-user\n"), err

        # The app restarted with a new key the daemon has not learnt: refused.
        kh.set_host_key("sm-Demo", _key())
        rc, _, err = await _ssh(paths.user_config, "sm-Demo", env)
        assert rc == 255 and "Host key verification failed" in err

        assert log.read_text().splitlines() == [
            "proxy sm-Demo",
            "proxy sm-Demo",
            "proxy sm-fresh",
            "proxy sm-Demo",
        ]
        assert not (paths.ssh_dir / "known_hosts").exists()  # the user's own file untouched
    finally:
        server.close()
        await server.wait_closed()
