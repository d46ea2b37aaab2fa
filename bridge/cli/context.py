"""The identity every command passes to the daemon: credential source, region, endpoint.

The daemon may have been spawned from another shell and uses none of its own environment for
a command, so the CLI sends what *this* shell says: ``--profile`` / ``--region`` (on the root
or on the command, the command's wins), else credentials exported here (sent as values over the
same-uid socket), else ``AWS_PROFILE``; ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and
``AWS_ENDPOINT_URL`` (or ``--endpoint-url``, which is how the emulator is reached).
See docs/design/identity.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from bridge.aws.context import AwsContext
from bridge.cli.completion import complete_profile, complete_region

__all__ = [
    "AwsContext",
    "EndpointOpt",
    "JsonOpt",
    "ProfileOpt",
    "RegionOpt",
    "aws_context",
    "set_root",
]


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="AWS profile (default: $AWS_PROFILE or the default chain).",
        show_default=False,
        autocompletion=complete_profile,
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region (default: $AWS_REGION / $AWS_DEFAULT_REGION).",
        show_default=False,
        autocompletion=complete_region,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="SageMaker/SSM/STS endpoint (default: $AWS_ENDPOINT_URL).",
        show_default=False,
        hidden=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def set_root(
    ctx: typer.Context, profile: str | None, region: str | None, endpoint: str | None
) -> None:
    """Called by the root callback with the options given before the command."""
    base = AwsContext.from_env().with_profile(profile)
    ctx.obj = replace(
        base, region=region or base.region, endpoint_url=endpoint or base.endpoint_url
    )


def aws_context(
    ctx: typer.Context, profile: str | None = None, region: str | None = None
) -> AwsContext:
    """The context for a command: its own ``--profile`` / ``--region`` over the root's."""
    root = ctx.find_root().obj
    base = root if isinstance(root, AwsContext) else AwsContext.from_env()
    return replace(base.with_profile(profile), region=region or base.region)
