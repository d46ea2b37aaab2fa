"""``smconnect doctor``: every prerequisite checked, each failure with its fix.

The checks run in dependency order (region before credentials before the API; the daemon
before the ssh config, whose host list it provides) and each one runs even when an earlier one
failed, so one run shows everything that needs fixing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.cli import doctor_local, output
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.cli.errors import CliError, ExitCode
from bridge.cli.launch import (
    EDITOR_ENV,
    REMOTE_SSH_EXTENSIONS,
    Editor,
    editor_extensions,
    find_editor,
)
from bridge.ssh.aliases import SpaceRef


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


class Failed(Exception):
    """A check's failure: what is wrong, and what to do about it."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass
class Findings:
    """What later checks need from earlier ones."""

    session: Any = None  # boto3.Session
    credentials_ok: bool = False
    identity_ok: bool = False
    spaces: list[SpaceRef] | None = None
    editor: Editor | None = None


CREDENTIALS_FIX = (
    "configure AWS credentials: `aws configure`, `aws sso login --profile NAME`, "
    "or set AWS_PROFILE / --profile to a profile that has them"
)


class Doctor:
    def __init__(self, aws: AwsContext, report: Callable[[Check], None]) -> None:
        self.aws = aws
        self.found = Findings()
        self.checks: list[Check] = []
        self._report = report

    def run(self) -> list[Check]:
        for name, fn in (
            ("AWS identity", self.identity),
            ("AWS region", self.region),
            ("AWS credentials", self.credentials),
            ("SageMaker API", self.sagemaker),
            ("smconnect daemon", self.daemon),
            ("OpenSSH client", self.ssh),
            ("ssh config", self.ssh_config),
            ("VS Code CLI", self.vscode),
            ("Remote-SSH extension", self.remote_ssh),
            ("keyring", self.keyring),
        ):
            try:
                check = Check(name, True, fn())
            except Failed as exc:
                check = Check(name, False, exc.detail, exc.fix)
            self.checks.append(check)
            self._report(check)
        return self.checks

    # -- AWS ---------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        import botocore.config

        from bridge.aws.session import client_config

        config = client_config(connect_timeout=5.0, read_timeout=15.0).merge(
            botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 2})
        )
        return self.found.session.client(service, endpoint_url=self.aws.endpoint_url, config=config)

    def identity(self) -> str:
        """Which credential source this caller's commands use (what the daemon will be sent)."""
        from bridge.aws.errors import AwsError, ProfileNotFound
        from bridge.aws.session import SessionSpec, make_session

        try:
            # Any region: this check is about who, the next one about where.
            make_session(SessionSpec(profile=self.aws.profile, region=self.aws.region or "-"))
            source = identity_source(self.aws)
        except ProfileNotFound as exc:
            raise Failed(
                str(exc), "`aws configure list-profiles` lists them; pick one with --profile"
            ) from None
        except AwsError as exc:
            raise Failed(str(exc), CREDENTIALS_FIX) from None
        self.found.identity_ok = True
        return source

    def region(self) -> str:
        from bridge.aws.errors import AwsError
        from bridge.aws.session import SessionSpec, make_session

        if not self.found.identity_ok:
            raise Failed("not checked: no usable credential source", CREDENTIALS_FIX)
        try:
            session = make_session(
                SessionSpec(
                    profile=self.aws.profile,
                    region=self.aws.region,
                    credentials=self.aws.credentials,
                )
            )
        except AwsError as exc:
            raise Failed(
                str(exc), "pass --region, set AWS_REGION, or set `region` in ~/.aws/config"
            ) from None
        self.found.session = session
        return f"{session.region_name} (from {self.region_source(session.profile_name)})"

    def region_source(self, profile: str | None) -> str:
        """Where the region came from, in the order they win: the flag, the environment,
        the profile."""
        if self.aws.region and self.aws.region not in (
            os.environ.get("AWS_REGION"),
            os.environ.get("AWS_DEFAULT_REGION"),
        ):
            return "--region"
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(name) and os.environ[name] == self.aws.region:
                return name
        return f"profile {profile or 'default'} in ~/.aws/config"

    def credentials(self) -> str:
        import botocore.exceptions

        from bridge.aws.errors import AwsError
        from bridge.aws.session import require_credentials

        if self.found.session is None:
            raise Failed("not checked: no usable AWS configuration", CREDENTIALS_FIX)
        try:
            require_credentials(self.found.session)
            identity = self._client("sts").get_caller_identity()
        except AwsError as exc:
            raise Failed(str(exc), CREDENTIALS_FIX) from None
        except botocore.exceptions.ClientError as exc:
            raise Failed(_client_error(exc), CREDENTIALS_FIX) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise Failed(str(exc), CREDENTIALS_FIX) from None
        self.found.credentials_ok = True
        return str(identity.get("Arn"))

    def sagemaker(self) -> str:
        import botocore.exceptions

        if not self.found.credentials_ok:
            raise Failed("not checked: no working credentials", CREDENTIALS_FIX)
        client = self._client("sagemaker")
        try:
            client.list_domains(MaxResults=1)
        except botocore.exceptions.ClientError as exc:
            raise Failed(
                _client_error(exc),
                "your identity needs sagemaker:ListDomains (and the other permissions in "
                "docs/user-guide.md, IAM permissions) in this region",
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise Failed(
                str(exc),
                "check the network path to the endpoint (VPN, HTTPS_PROXY, AWS_ENDPOINT_URL)",
            ) from None
        return f"reachable at {client.meta.endpoint_url}"

    # -- local -------------------------------------------------------------------------------

    def daemon(self) -> str:
        import asyncio

        from bridge import __version__
        from bridge.cli.sshconfig_cmd import space_refs
        from bridge.daemon.client import DaemonClient, DaemonError

        async def ask() -> tuple[dict[str, Any], dict[str, Any] | None]:
            async with DaemonClient.connect(autostart=True) as client:
                status = await client.call("daemon.status", timeout=10.0)
                sessions = await client.call("sessions.status", timeout=10.0)
                status["others"] = other_identities(self.aws, sessions)
                spaces = None
                if self.found.credentials_ok:
                    with contextlib.suppress(DaemonError):  # the AWS checks report it
                        spaces = await client.call("spaces.list", self.aws.params(), timeout=60.0)
                return status, spaces

        try:
            status, spaces = asyncio.run(ask())
        except DaemonError as exc:
            raise Failed(str(exc), "`smconnect daemon logs` shows why it fails") from None
        if spaces is not None:
            self.found.spaces = space_refs(spaces)
            output.warn_rejected(spaces)
        version = status.get("version")
        detail = f"running (pid {status.get('pid')}, version {version})"
        if status["others"]:
            detail += f"; it also holds channels of {', '.join(status['others'])}"
        if version != __version__:
            raise Failed(
                f"{detail}, but this smconnect is version {__version__}",
                "`smconnect daemon stop`; the next command starts the new version",
            )
        return detail

    def ssh(self) -> str:
        ssh = shutil.which("ssh")
        fix = "install OpenSSH (e.g. `apt install openssh-client`, or the Windows OpenSSH client)"
        if ssh is None:
            raise Failed("ssh was not found on PATH", fix)
        try:
            proc = subprocess.run(
                [ssh, "-V"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Failed(f"{ssh} -V failed: {exc}", fix) from None
        version = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        return f"{version.splitlines()[0] if version else 'unknown version'} ({ssh})"

    def ssh_config(self) -> str:
        from bridge.cli.sshconfig_cmd import manager
        from bridge.ssh.errors import SshConfigError
        from bridge.ssh.hosts import HostIdentity

        fix = "`smconnect ssh-config install`"
        config = manager(self.aws)
        try:
            status = config.show(
                self.found.spaces,
                validate=shutil.which("ssh") is not None,
                identity=HostIdentity.of(self.aws),
            )
        except SshConfigError as exc:
            raise Failed(str(exc), fix) from None
        if status.problems:
            problems = [
                (
                    doctor_local.proxy_difference(
                        config.paths.our_config, config.options.smconnect_command
                    )
                    or p
                )
                if "ProxyCommand points at another smconnect" in p
                else p
                for p in status.problems
            ]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise Failed(problems[0] + more, fix)
        elsewhere = doctor_local.openssh_home_problem(config.paths)
        if elsewhere is not None:
            raise Failed(*elsewhere)
        freshness = {True: ", host list up to date", False: "", None: ""}[status.up_to_date]
        mine = HostIdentity.of(self.aws)
        others = [e.identity for e in status.entries if e.identity != mine]
        if others and len(others) == len(status.entries):
            # Hosts of one ssh config carry their own identity: say whose they are.
            differs = doctor_local.identity_difference(others[0], mine)
            freshness += f"; none for this shell's identity: {differs}" if differs else ""
        return f"installed, Include first, {len(status.hosts)} hosts{freshness}"

    def keyring(self) -> str:
        backend, problem, fix = doctor_local.keyring_check()
        if problem is not None:
            raise Failed(problem, fix or "")
        return backend

    def vscode(self) -> str:
        fix = (
            'install VS Code and put `code` on PATH (Command Palette: "Shell Command: Install '
            "'code' command in PATH\"), or set SMCONNECT_EDITOR; not needed for ssh alone"
        )
        try:
            editor = find_editor()
        except CliError as exc:
            raise Failed(exc.message, fix) from None
        if editor is None:
            if os.environ.get(EDITOR_ENV, "").strip():
                raise Failed(f"turned off by {EDITOR_ENV}={os.environ[EDITOR_ENV]}", fix)
            raise Failed("no code, code-insiders or cursor on PATH", fix)
        self.found.editor = editor
        return f"{editor.name} ({editor.argv[0]})"

    def remote_ssh(self) -> str:
        fix = "`code --install-extension ms-vscode-remote.remote-ssh`"
        if self.found.editor is None:
            raise Failed("not checked: no VS Code CLI", fix)
        try:
            installed = editor_extensions(self.found.editor)
        except (CliError, OSError, subprocess.TimeoutExpired) as exc:
            raise Failed(str(exc), fix) from None
        found = sorted(installed & REMOTE_SSH_EXTENSIONS)
        if not found:
            raise Failed(f"{self.found.editor.name} has no Remote-SSH extension", fix)
        return found[0]


def identity_source(aws: AwsContext) -> str:
    """Where this caller's credentials come from, as ``doctor`` reports it (never a secret)."""
    from bridge.aws import awsconfig
    from bridge.aws.credentials import resolve_profile_name

    if aws.credentials is not None:
        kind = "temporary" if aws.credentials.session_token else "long-term"
        until = f", expire {aws.credentials.expiration}" if aws.credentials.expiration else ""
        return (
            f"environment: {kind} credentials exported in this shell ({aws.key.describe()}{until})"
        )
    name = resolve_profile_name(aws.profile)
    settings = awsconfig.profile_settings(name)
    if "sso_session" in settings or "sso_start_url" in settings:
        how = "SSO cache"
    elif "credential_process" in settings:
        how = "credential_process"
    elif "role_arn" in settings:
        how = "assume role"
    else:
        how = "config files"
    return f"profile {name} ({how})"


def other_identities(aws: AwsContext, sessions: dict[str, Any]) -> list[str]:
    """The identities other than this caller's whose channels the daemon holds."""
    mine = aws.key.describe()
    found = {str(s.get("identity")) for s in sessions.get("sessions", []) if s.get("identity")}
    return sorted(found - {mine})


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"


def _print_check(check: Check) -> None:
    from rich.markup import escape

    mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
    output.stdout().print(f"{mark} {escape(check.name)}: {escape(output.safe(check.detail))}")
    if check.fix:
        output.stdout().print(f"    fix: {escape(output.safe(check.fix))}")


def doctor_cmd(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Also write a redacted support bundle (a zip: versions, this report, recent "
            "logs, ssh -G of the hosts) to FILE.",
            metavar="FILE",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Check credentials, region, ssh, the ssh config, the daemon, VS Code and the API."""
    aws = aws_context(ctx, profile, region)
    checks = Doctor(aws, (lambda c: None) if json_out else _print_check).run()
    ok = all(c.ok for c in checks)
    if json_out:
        output.print_json({"ok": ok, "checks": [asdict(c) for c in checks]})
    if bundle is not None:
        from bridge.cli.doctor_bundle import write_bundle
        from bridge.cli.sshconfig_cmd import manager

        try:
            write_bundle(bundle, checks, manager(aws))
        except OSError as exc:
            raise CliError(f"cannot write {bundle}: {exc.strerror or exc}") from None
        output.say(f"wrote the support bundle {bundle} (secrets redacted; check before sharing)")
    if not ok:
        raise typer.Exit(ExitCode.FAILURE)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)
