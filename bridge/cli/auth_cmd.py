"""``smconnect login | configure | credentials``: credentials that renew themselves.

``login`` signs in to an SSO profile (device authorization, token in the shared SSO cache) or
starts the MFA session of a keyring profile. ``configure`` puts long-term keys in the OS keyring
and points the profile at ``credential_process = smconnect credentials P``, which every AWS SDK
runs when it needs credentials; ``credentials`` is that process and prints nothing but its JSON.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bridge.cli import output
from bridge.cli.context import ProfileOpt, aws_context
from bridge.cli.errors import CliError, ExitCode

if TYPE_CHECKING:
    from bridge.aws.sso import SsoProfile

# Keys that make botocore use another credential source for the profile; configure replaces
# them only when told to (--force), so it never silently turns an SSO profile into a key profile.
_OTHER_SOURCES = (
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "credential_process",
)


def _profile(ctx: typer.Context, profile: str | None) -> str:
    from bridge.aws.credentials import resolve_profile_name

    return resolve_profile_name(aws_context(ctx, profile).profile)


def _setup_error(exc: Exception) -> CliError:
    return CliError(str(exc), ExitCode.AWS_SETUP)


# -- login -------------------------------------------------------------------------------------


def login(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Sign in again even if the session is still valid.")
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the sign-in URL instead of opening it.")
    ] = False,
) -> None:
    """Sign in: SSO (IAM Identity Center) profiles, or the MFA session of a keyring profile."""
    from bridge.aws import credentials, sso
    from bridge.aws.errors import AwsError

    name = _profile(ctx, profile)
    try:
        settings = sso.sso_profile(name)
        if settings is not None:
            _sso_login(settings, force=force, browser=not no_browser)
            return
        if credentials.is_keyring_profile(name):
            _mfa_login(name, force=force)
            return
    except AwsError as exc:
        raise _setup_error(exc) from None
    raise CliError(
        f"profile {name!r} signs in neither with SSO nor with smconnect's keyring: set it up "
        f"with `aws configure sso --profile {name}` or `smconnect configure --profile {name}`",
        ExitCode.AWS_SETUP,
    )


def _sso_login(settings: SsoProfile, *, force: bool, browser: bool) -> None:
    from bridge.aws import sso

    token = sso.load_token(settings)
    if token is not None and not force:
        left = sso.token_remaining(token)
        if left > sso.REFRESH_WINDOW:
            output.say(f"already signed in to {settings.start_url} (for {_duration(left)} more)")
            return
        if sso.can_refresh(token) and sso.SsoSignIn(settings).refresh() is not None:
            output.say(f"renewed the sign-in to {settings.start_url}")
            return

    def announce(code: sso.DeviceCode) -> None:
        opened = browser and _open_browser(code.verification_uri_complete)
        verb = "A browser window opened at" if opened else "Open"
        output.say(f"{verb} {code.verification_uri_complete}")
        output.say(f"and confirm that it shows the code {code.user_code}; waiting for approval...")

    sso.SsoSignIn(settings).login(announce)
    output.say(f"signed in to {settings.start_url}; the AWS CLI and SDKs share this sign-in")


def _mfa_login(profile: str, *, force: bool) -> None:
    from bridge.aws import credentials
    from bridge.aws.keyring_store import KeyringStore

    store = KeyringStore()
    settings = credentials.keyring_profile(profile)
    if not settings.uses_session:
        output.say(f"profile {profile!r} uses long-term keys from the keyring; nothing to sign in")
        return
    cached = store.session(profile)
    if cached is not None and not force and cached.remaining() > 60:
        output.say(f"the session of {profile!r} is valid for {_duration(cached.remaining())} more")
        return
    store.forget_session(profile)

    def ask(question: str) -> str:
        return _ask(question.rstrip(": "))

    result = credentials.process_credentials(profile, store=store, prompt=ask)
    credentials.note_sign_in()
    output.say(f"started a session for {profile!r}, valid until {result['Expiration']}")


def _ask(question: str, *, secret: bool = False) -> str:
    """A prompt on a terminal; from a pipe, one line read quietly (scripts, tests)."""
    if not sys.stdin.isatty():
        sys.stderr.write(f"{question}: ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
        sys.stderr.write("\n")
        return answer.strip()
    return str(typer.prompt(question, hide_input=secret, err=True)).strip()


def _open_browser(url: str) -> bool:
    """Only where a graphical browser can show up: a console browser would take the terminal."""
    if sys.platform not in ("darwin", "win32") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    import webbrowser

    try:
        return webbrowser.open(url, new=1)
    except webbrowser.Error:
        return False


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes >= 120:
        return f"{minutes // 60} h"
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


# -- configure ---------------------------------------------------------------------------------


def configure(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    access_key_id: Annotated[
        str | None,
        typer.Option(
            "--access-key-id", help="Access key id (asked for when left out).", show_default=False
        ),
    ] = None,
    mfa_serial: Annotated[
        str | None,
        typer.Option(
            "--mfa-serial",
            help="ARN of the MFA device: sessions need its code.",
            show_default=False,
        ),
    ] = None,
    role_arn: Annotated[
        str | None,
        typer.Option("--role-arn", help="Assume this role with the keys.", show_default=False),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="The profile's region.", show_default=False),
    ] = None,
    duration: Annotated[
        int | None,
        typer.Option(
            "--duration-seconds",
            min=900,
            help="Session length (STS limits apply).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace another credential source configured for the profile."
        ),
    ] = False,
) -> None:
    """Keep a profile's access keys in the OS keyring, not in ~/.aws/credentials."""
    from bridge.aws import awsconfig, credentials
    from bridge.aws.errors import AwsError
    from bridge.aws.keyring_store import AccessKeys, KeyringStore

    name = _profile(ctx, profile)
    try:
        existing = awsconfig.profile_settings(name)
        ours = credentials.is_keyring_profile(name)
        others = [
            k for k in _OTHER_SOURCES if k in existing and not (ours and k == "credential_process")
        ]
        if others and not force:
            raise CliError(
                f"profile {name!r} already gets credentials another way ({', '.join(others)} in "
                f"{awsconfig.config_path()}); pass --force to replace that, or pick another --profile",
                ExitCode.AWS_SETUP,
            )
        shadowing = awsconfig.read_config(awsconfig.credentials_path()).get(name, {})
        if "aws_access_key_id" in shadowing:
            raise CliError(
                f"profile {name!r} has keys in {awsconfig.credentials_path()}, which every SDK "
                "reads before credential_process: delete that section, then run this again",
                ExitCode.AWS_SETUP,
            )
        store = KeyringStore()
        key_id = access_key_id or _ask("AWS access key id")
        secret = _ask("AWS secret access key", secret=True)
        if not key_id or not secret:
            raise CliError("an access key id and a secret access key are needed", ExitCode.USAGE)
        store.set_keys(name, AccessKeys(key_id, secret))
        values = {"credential_process": _process_line(name)}
        if mfa_serial:
            values["mfa_serial"] = mfa_serial
        if role_arn:
            values[credentials.ROLE_ARN_KEY] = role_arn
        if region:
            values["region"] = region
        if duration:
            values[credentials.DURATION_KEY] = str(duration)
        result = awsconfig.update_section(
            awsconfig.profile_section(name), values, remove=[k for k in others if k not in values]
        )
    except AwsError as exc:
        raise _setup_error(exc) from None
    output.say(f"stored the access key of profile {name!r} in the OS keyring")
    if result.changed:
        backup = f" (previous version: {result.backup})" if result.backup else ""
        output.say(
            f"updated [{awsconfig.profile_section(name)}] in {awsconfig.config_path()}{backup}"
        )
    if mfa_serial:
        output.say(
            f"`smconnect login --profile {name}` asks for the MFA code when a session is due"
        )


def _process_line(profile: str) -> str:
    """``credential_process`` with this smconnect's absolute path when it has one: GUI apps
    (VS Code started from a dock) do not see the shell's PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "smconnect")
    exe = os.path.abspath(beside) if os.access(beside, os.X_OK) else "smconnect"
    return f"{shlex.quote(exe)} credentials {shlex.quote(profile)}"


# -- credentials -------------------------------------------------------------------------------


def credentials_process(
    profile: Annotated[str, typer.Argument(help="The profile whose keyring credentials to print.")],
) -> None:
    """The credential_process of keyring profiles: one JSON object on stdout, nothing else."""
    from bridge.aws.credentials import process_main

    code = process_main(profile)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("configure")(configure)
    app.command("credentials", hidden=True)(credentials_process)
