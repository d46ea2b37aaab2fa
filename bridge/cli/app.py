"""The typer application: every command but ``proxy`` (see ``bridge.__main__``).

Registration is explicit: each ``*_cmd`` module defines its commands as plain functions and a
``register(app)`` that adds them, and ``COMMANDS`` names each command's module, in the order
``--help`` lists them. A module is imported and its commands built only when one of them is
looked up (``bridge.cli.lazy``): a run builds the command it runs, not all of them. The
command modules never import this one, so there is no import cycle and no command appears by
the side effect of an import.

``run()`` is the console entry point's guard: whatever goes wrong, the user gets one line on
stderr and a documented exit code (``bridge.cli.errors.ExitCode``), never a traceback; an
unexpected error's traceback goes to ``cli.log`` in the state directory instead.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bridge.cli.coercion import install as install_quick_coercion
from bridge.cli.context import EndpointOpt, ProfileOpt, RegionOpt, set_root
from bridge.cli.helpstyle import install as install_help_style
from bridge.cli.lazy import LazyGroup

install_help_style()
install_quick_coercion()

_AUTH, _SPACES, _TRANSFER = (
    "bridge.cli.auth_cmd",
    "bridge.cli.spaces_cmd",
    "bridge.cli.transfer_cmd",
)
COMMANDS: dict[str, str] = {
    "login": _AUTH,
    "configure": _AUTH,
    "credentials": _AUTH,  # hidden (bridge/__main__.py runs it without typer)
    "status": "bridge.cli.status_cmd",
    "logs": "bridge.cli.logs_cmd",
    "doctor": "bridge.cli.doctor_cmd",
    "list": _SPACES,
    "open": _SPACES,
    "ssh": _SPACES,
    "start": _SPACES,
    "stop": _SPACES,
    "forward": "bridge.cli.forward_cmd",
    "kernels": "bridge.cli.kernels_cmd",
    "keep-alive": "bridge.cli.keepalive_cmd",
    "cp": _TRANSFER,
    "sync": _TRANSFER,
    "daemon": "bridge.cli.daemon_cmd",
    "emulator": "bridge.cli.emulator_cmd",
    "ssh-config": "bridge.cli.sshconfig_cmd",
}
"""Every command (or command group) by name: the module whose ``register(app)`` adds it."""


class _Smconnect(LazyGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="smconnect",
    cls=_Smconnect,
    help="Connect local tools to Amazon SageMaker Studio spaces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from bridge import __version__

        typer.echo(f"smconnect {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Connect local tools (ssh, VS Code, Jupyter) to Amazon SageMaker Studio spaces.

    Every command talks to a small local daemon (started on demand) that holds the AWS
    session and the data channels.
    """
    set_root(ctx, profile, region, endpoint_url)


def run() -> None:
    from typer import Abort
    from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click

    from bridge.cli.errors import ExitCode, as_cli_error, log_crash
    from bridge.cli.output import say
    from bridge.redact import redact

    try:
        status = app(standalone_mode=False)
    except SystemExit:
        raise
    except NoArgsIsHelpError as exc:
        exc.show()  # a bare `smconnect` or command group: its help
        raise SystemExit(ExitCode.USAGE) from None
    except UsageError as exc:  # one line, like every other error, and where to look
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        say(f"{exc.format_message()}{hint}")
        raise SystemExit(ExitCode.USAGE) from None
    except (KeyboardInterrupt, Abort):
        raise SystemExit(ExitCode.INTERRUPTED) from None
    except BaseException as exc:
        error = as_cli_error(exc)
        if error is not None:
            say(error.message)
            raise SystemExit(error.code) from None
        where = log_crash(exc)
        say(
            redact(f"unexpected error: {type(exc).__name__}: {exc}")
            + (f" (details in {where})" if where else "")
        )
        raise SystemExit(ExitCode.FAILURE) from None
    if isinstance(status, int) and status:
        raise SystemExit(status)
