"""``smconnect ssh-config install|show|remove``: the ssh config smconnect owns.

``smconnect open`` keeps it current on its own; these commands are for setting it up ahead of
time (so ``ssh sm-<space>`` and VS Code's host list work before any ``open``), checking it, and
taking it out again. Only our Included file and one marked Include line are ever written.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bridge.cli import output, rpc
from bridge.cli.context import AwsContext, JsonOpt, ProfileOpt, RegionOpt, aws_context
from bridge.ssh.aliases import DEFAULT_PREFIX, SpaceRef
from bridge.ssh.command import smconnect_command
from bridge.ssh.hosts import HostEntry, HostIdentity
from bridge.ssh.paths import SshPaths

if TYPE_CHECKING:
    from bridge.ssh.config import ConfigStatus, InstallPlan, SshConfig

sshcfg_app = typer.Typer(help="Install, show or remove smconnect's ssh configuration.")

PrefixOpt = Annotated[
    str | None, typer.Option("--prefix", help="Host name prefix: <prefix><space> (e.g. sm-demo).")
]


def manager(aws: AwsContext, prefix: str | None = None, *, fdpass: bool | None = None) -> SshConfig:
    """The ssh config for this user, with a ProxyCommand that runs this smconnect.

    Without ``--prefix``, the prefix of the installed config is kept (the daemon keeps it too);
    likewise its descriptor passing unless ``fdpass`` says otherwise (default: on).
    """
    from bridge.ssh.config import SshConfig
    from bridge.ssh.render import ConfigOptions, installed_fdpass, installed_prefix

    paths = SshPaths.for_home()
    prefix = prefix or installed_prefix(paths) or DEFAULT_PREFIX
    if fdpass is None:
        fdpass = installed_fdpass(paths) is not False
    options = ConfigOptions(smconnect_command=smconnect_command(), prefix=prefix, fdpass=fdpass)
    return SshConfig(paths, options)


def entry_json(entry: HostEntry) -> dict[str, Any]:
    """One host of our file: its space and the identity its ProxyCommand connects as."""
    return {
        "host": entry.alias,
        "space": entry.space.name,
        "domain_id": entry.space.domain_id,
        "profile": entry.identity.profile,
        "region": entry.identity.region,
        "endpoint_url": entry.identity.endpoint_url,
    }


def status_json(status: ConfigStatus) -> dict[str, Any]:
    return {
        "installed": status.installed,
        "user_config": str(status.paths.user_config),
        "our_config": str(status.paths.our_config),
        "include_present": status.include_present,
        "include_first": status.include_first,
        "command_current": status.command_current,
        "up_to_date": status.up_to_date,
        "hosts": list(status.hosts),
        "stale_hosts": list(status.stale_hosts),
        "missing_hosts": list(status.missing_hosts),
        "problems": list(status.problems),
        "host_entries": [entry_json(e) for e in status.entries],
        "content": status.content,
    }


def space_refs(listed: dict[str, Any]) -> list[SpaceRef]:
    """The spaces of a ``spaces.list`` answer, as the ssh config names them."""
    return [SpaceRef(str(s["name"]), str(s["domain_id"])) for s in listed.get("spaces", [])]


@sshcfg_app.command("install")
def install_cmd(
    ctx: typer.Context,
    prefix: PrefixOpt = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    fdpass: Annotated[
        bool | None,
        typer.Option(
            "--fdpass/--no-fdpass",
            help="Pass ssh a descriptor (ProxyUseFdpass, the default) or relay every byte "
            "through `smconnect proxy` (for ssh clients without it); kept by later refreshes.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the diff the install would apply, and write nothing."
        ),
    ] = False,
) -> None:
    """Write this profile's Host entries (others stay) and Include them in ~/.ssh/config."""
    aws = aws_context(ctx, profile, region)
    listed = rpc.call("spaces.list", {**aws.params(), "refresh": True})
    output.warn_rejected(listed)
    config = manager(aws, prefix, fdpass=fdpass)
    identity = HostIdentity.of(aws)
    if dry_run:
        _print_dry_run(config, config.plan_install(space_refs(listed), identity=identity), json_out)
        return
    result = config.install(space_refs(listed), identity=identity)
    if json_out:
        output.print_json(
            {
                "dry_run": False,
                "user_config_changed": result.user_config_changed,
                "our_config_changed": result.our_config_changed,
                "backup": str(result.backup) if result.backup else None,
                "aliases": list(result.aliases),
                "collisions": [f"{c.domain_id}/{c.name}" for c in result.collisions],
                "refused": [f"{c.domain_id}/{c.name}" for c in result.refused],
                "user_config": str(config.paths.user_config),
                "our_config": str(config.paths.our_config),
            }
        )
        return
    paths = config.paths
    if result.user_config_changed:
        output.stdout().print(f"Added smconnect's Include line at the top of {paths.user_config}")
        if result.backup:
            output.stdout().print(f"  backup of the previous file: {result.backup}")
    if result.our_config_changed:
        output.stdout().print(f"Wrote {paths.our_config}")
    if not (result.user_config_changed or result.our_config_changed):
        output.stdout().print("smconnect's ssh config is already up to date")
    hosts = ", ".join(result.aliases) or "none yet"
    output.stdout().print(f"Identity: {identity.label()}", markup=False)
    output.stdout().print(f"Hosts: {hosts} (and any {config.options.wildcard[:-1]}<space>)")
    for ref in result.refused:
        output.say(
            f"warning: space {ref.domain_id}/{ref.name} got no Host entry: its name or domain "
            "id is not one SageMaker documents"
        )
    for ref in result.collisions:
        output.say(
            f"space {ref.domain_id}/{ref.name} got no Host entry: its name differs from "
            "another's only in case (the wildcard entry still serves it)"
        )


def _print_dry_run(config: SshConfig, plan: InstallPlan, json_out: bool) -> None:
    diff = plan.diff()
    if json_out:
        output.print_json(
            {
                "dry_run": True,
                "user_config_changed": plan.user_after is not None,
                "our_config_changed": plan.ours_after is not None,
                "backup": None,
                "aliases": list(plan.rendered.aliases),
                "collisions": [f"{c.domain_id}/{c.name}" for c in plan.rendered.collisions],
                "refused": [f"{c.domain_id}/{c.name}" for c in plan.rendered.refused],
                "user_config": str(config.paths.user_config),
                "our_config": str(config.paths.our_config),
                "diff": diff,
            }
        )
        return
    if not diff:
        output.stdout().print("smconnect's ssh config is already up to date; nothing would change")
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(diff.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


@sshcfg_app.command("show")
def show_cmd(
    ctx: typer.Context,
    prefix: PrefixOpt = None,
    validate: Annotated[
        bool, typer.Option("--validate", help="Also ask ssh (`ssh -G`) that it applies.")
    ] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Show whether smconnect's ssh config is installed, its problems, and our file."""
    status = manager(aws_context(ctx, profile, region), prefix).show(validate=validate)
    if json_out:
        output.print_json(status_json(status))
        return
    say = output.stdout().print
    paths = status.paths
    if not status.include_present:
        say(f"{paths.user_config}: no smconnect Include line")
    else:
        where = "first" if status.include_first else "NOT first (ssh ignores it there)"
        say(f"{paths.user_config}: smconnect Include line present, {where}")
    say(f"{paths.our_config}: {'present' if status.our_config_present else 'missing'}")
    if status.entries:
        say("Hosts:")
        for entry in status.entries:
            say(
                f"  {entry.alias}  space {entry.space.domain_id}/{entry.space.name}  "
                f"{entry.identity.label()}",
                markup=False,
                highlight=False,
            )
    elif status.hosts:
        say(f"Hosts: {', '.join(status.hosts)}")
    for problem in status.problems:
        output.say(problem)
    if not status.problems:
        say("No problems found.")
    if status.content is not None:
        say("")
        sys.stdout.flush()
        sys.stdout.buffer.write(status.content.encode("utf-8", "surrogateescape"))
        sys.stdout.buffer.flush()


@sshcfg_app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    prefix: PrefixOpt = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Take smconnect's lines and files out of your ssh config (--profile: only its hosts)."""
    config = manager(aws_context(ctx, profile, region), prefix)
    only = explicit_profile(ctx, profile)
    if only is not None:
        _remove_profile(config, only, json_out)
        return
    result = config.remove()
    if json_out:
        output.print_json(
            {
                "user_config_changed": result.user_config_changed,
                "user_config_deleted": result.user_config_deleted,
                "removed_files": [str(p) for p in result.removed_files],
            }
        )
        return
    paths = config.paths
    if result.user_config_deleted:
        output.stdout().print(f"Deleted {paths.user_config} (smconnect had created it)")
    elif result.user_config_changed:
        output.stdout().print(f"Removed smconnect's Include line from {paths.user_config}")
    for path in result.removed_files:
        output.stdout().print(f"Deleted {path}")
    if not result.user_config_changed and not result.removed_files:
        output.stdout().print("smconnect's ssh config was not installed; nothing to remove")


def explicit_profile(ctx: typer.Context, profile: str | None) -> str | None:
    """The ``--profile`` given on the command line (the command's or the root's), not one
    taken from ``AWS_PROFILE``: a plain ``remove`` always removes everything."""
    if profile:
        return profile
    root = ctx.find_root().obj
    given = root.profile if isinstance(root, AwsContext) else None
    return given if given and given != AwsContext.from_env().profile else None


def _remove_profile(config: SshConfig, profile: str, json_out: bool) -> None:
    removed = config.remove_profile(profile)
    if json_out:
        output.print_json(
            {
                "user_config_changed": False,
                "user_config_deleted": False,
                "removed_files": [],
                "removed_hosts": [entry_json(e) for e in removed],
            }
        )
        return
    if not removed:
        output.stdout().print(
            f"no smconnect host of profile {profile} is installed; nothing to remove",
            markup=False,
        )
    for entry in removed:
        output.stdout().print(f"Removed {entry.alias} ({entry.identity.label()})", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sshcfg_app, name="ssh-config")
