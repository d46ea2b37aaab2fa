"""Helpers for the credential tests: a real emulator with an SSO portal, STS with MFA, and a private HOME per test in which
``smconnect`` (and plain boto3, for "without us") run as subprocesses.

The keyring is a real backend chosen through keyring's own configuration
(``PYTHON_KEYRING_BACKEND``): keyrings.alt's file keyring, its file under the test's
XDG_DATA_HOME.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from bridge.emulator import EmulatorThread
from bridge.emulator.config import (
    DelaysConfig,
    DomainConfig,
    EmulatorConfig,
    MfaDeviceConfig,
    SpaceConfig,
)
from bridge.testing.sandbox import FAST_DAEMON, SMCONNECT, Sandbox, not_ours
from tests.support.log_scan import LOG_ROOTS, SECRETS

# LOG_ROOTS and SECRETS: registered here, searched at the end of the session.
__all__ = [
    "CREDENTIALS_RECHECK",
    "DOMAIN",
    "KEYRING_BACKEND",
    "LOG_ROOTS",
    "MFA_CODE",
    "MFA_SERIAL",
    "SECRETS",
    "SMCONNECT",
    "START_URL",
    "Home",
    "emulator_config",
    "home_env",
]
DOMAIN = "d-emulator00001"
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/alice"
MFA_CODE = "314159"
START_URL = "https://emulator.awsapps.com/start"
KEYRING_BACKEND = "keyrings.alt.file.PlaintextKeyring"
# Set for the daemon (once its settings read it): with no sign-in seen, a resume blocked on
# credentials asks AWS again after this many seconds; a test shows a sign-in is faster.
CREDENTIALS_RECHECK = 30.0
_USER_CODE = re.compile(r"code ([A-Z]{4}-[A-Z]{4})")
# Not inherited: the keyring is chosen below, and no browser may open from a test.
_NOT_INHERITED = frozenset({"PYTHON_KEYRING_BACKEND", "DISPLAY", "WAYLAND_DISPLAY"})


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        pacing="unthrottled",
        delays=DelaysConfig(
            app_start=0.1, app_stop=0.1, space_update=0.1, start_session_failure_window=0.0
        ),
        mfa_devices=(MfaDeviceConfig(MFA_SERIAL, MFA_CODE),),
        domains=(
            DomainConfig(
                DOMAIN,
                "smconnect-demo",
                ("default-user",),
                (SpaceConfig("ce", app_type="CodeEditor", app_running=True),),
            ),
        ),
    )


@dataclasses.dataclass
class Home(Sandbox):
    """One user's machine: HOME, ~/.aws, a keyring, smconnect's state, and the emulator.

    Unlike other sandboxes it gets no static keys from the emulator: only its endpoint, so
    credentials come from what the test writes in ~/.aws (SSO, MFA, credential_process)."""

    @classmethod
    def at(cls, root: Path, emu: EmulatorThread) -> Self:
        return cls.create(
            root,
            {
                "AWS_ENDPOINT_URL": emu.endpoint_url,
                "AWS_CONFIG_FILE": str(root / ".aws" / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(root / ".aws" / "credentials"),
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
            },
            extra={
                **FAST_DAEMON,
                "XDG_DATA_HOME": str(root / "data"),
                "XDG_CONFIG_HOME": str(root / "xdg-config"),
                "PYTHON_KEYRING_BACKEND": KEYRING_BACKEND,
                "SMCONNECT_RUNTIME_DIR": str(root / "run"),
                "SMCONNECT_STATE_DIR": str(root / "state"),
                "SMCONNECT_CREDENTIALS_POLL": "0.5",
                # Warn of any session shorter than 10 min at once.
                "SMCONNECT_SIGN_IN_WARNING": "600",
                "SMCONNECT_CREDENTIALS_RECHECK": str(CREDENTIALS_RECHECK),
                # Home.advance_clock moves it.
                "SMCONNECT_EMULATOR_CLOCK": str(root / "emulator-clock"),
            },
            emulator=emu,
            inherit=lambda name: not_ours(name) and name not in _NOT_INHERITED,
        )

    @property
    def root(self) -> Path:
        return self.home

    @property
    def aws_config(self) -> Path:
        return self.root / ".aws" / "config"

    @property
    def sso_cache(self) -> Path:
        return self.root / ".aws" / "sso" / "cache"

    @property
    def clock_file(self) -> Path:
        """The offset ``bridge.aws.clock`` adds for this home's processes (see home_env)."""
        return self.root / "emulator-clock"

    @property
    def issuer(self) -> Any:
        return self.emu.emulator.plane.issuer

    def write_config(self, text: str) -> None:
        self.aws_config.parent.mkdir(parents=True, exist_ok=True)
        self.aws_config.write_text(text)

    def smconnect(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """As ``Sandbox.smconnect``, with the shorter wait these tests have always used."""
        return super().smconnect(*args, input=input, timeout=timeout, env=env)

    def python(self, code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Plain boto3 in a fresh process: no smconnect code involved."""
        return self.command(sys.executable, "-c", code, timeout=timeout)

    def caller_arn(self, profile: str) -> str:
        proc = self.python(
            f"import boto3; print(boto3.Session(profile_name={profile!r}).client('sts')"
            ".get_caller_identity()['Arn'])"
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def approve(self, user_code: str) -> None:
        async def approve() -> None:
            self.emu.emulator.plane.approve_device(user_code)

        self.emu.call(approve)

    def set_tokens(self, **lifetimes: float) -> None:
        async def retime() -> None:
            issuer = self.issuer
            issuer.tokens = dataclasses.replace(issuer.tokens, **lifetimes)

        self.emu.call(retime)

    def advance_clock(self, seconds: float) -> None:
        """Let ``seconds`` pass for the emulator and for every smconnect process of this home
        (the daemon and ``credential_process`` included), without waiting for them."""

        async def advance() -> float:
            self.issuer.clock.advance(seconds)
            offset: float = self.issuer.clock.offset
            return offset

        self.clock_file.write_text(repr(self.emu.call(advance)))

    def login(self, *args: str, approve: bool = True, timeout: float = 60) -> tuple[int, str]:
        """``smconnect login`` as a user runs it: read the code it prints, approve it in the
        "browser", wait for it to finish. Returns (exit code, stderr)."""
        proc = self.popen("login", *args)
        assert proc.stderr is not None
        lines: list[str] = []
        approved = threading.Event()

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line)
                match = _USER_CODE.search(line)
                if match and approve and not approved.is_set():
                    approved.set()
                    self.approve(match.group(1))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(5)
        return code, "".join(lines)

    def cached_token(self, key_source: str) -> dict[str, Any]:
        import hashlib
        import json

        name = hashlib.sha1(key_source.encode()).hexdigest() + ".json"
        data: dict[str, Any] = json.loads((self.sso_cache / name).read_text())
        SECRETS.update(
            str(data[k]) for k in ("accessToken", "refreshToken", "clientSecret") if data.get(k)
        )
        return data


def home_env(root: Path, emu: EmulatorThread) -> dict[str, str]:
    """The environment of ``Home.at(root, emu)`` (kept for callers that only need that)."""
    return Home.at(root, emu).env
