"""AWS's session-manager-plugin as ssh's ProxyCommand, for `scripts/bench_ssh.py --plugin`: the
whole path a user of AWS's own tools runs (`ssh` with `ProxyCommand session-manager-plugin ...`
as AWS documents for SSH over Session Manager), through the same emulator as smconnect's paths,
so the two are measured on one machine in one run.

The plugin takes what `aws ssm start-session` hands it: the StartSession response, the region,
the operation, a profile, the request's parameters and the SSM endpoint (its session.go reads
them by position). The response travels as the AWS CLI sends it, in an environment variable
whose name starts with AWS_SSM_START_SESSION_RESPONSE (the plugin reads it, then unsets it), so
the session's token is in no command line. StartSession itself is called here, by the bench,
once per ssh connection (a grant's token is good for one dial): that call is not part of the
measured process tree. No plugin code is shipped: the user points `--plugin` at a binary.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

import botocore.exceptions
from ssh_latency import _client

from bridge.emulator import EmulatorThread

# The plugin reads args[1] as the name of the variable when it starts with this.
_RESPONSE_VAR = "AWS_SSM_START_SESSION_RESPONSE"


def check_plugin(path: str) -> str | None:
    """Why ``path`` cannot be the plugin (one line), or None."""
    if not os.path.isfile(path):
        return f"--plugin {path}: no such file"
    if not os.access(path, os.X_OK):
        return f"--plugin {path}: not executable"
    return None


class PluginPath:
    """ssh to the space ``demo`` through ``plugin``: ``argv`` (no remote command) and ``env``,
    a fresh StartSession for each connection."""

    def __init__(self, plugin: str, emulator: EmulatorThread, base_env: dict[str, str]) -> None:
        self._sm: Any = _client(emulator, "sagemaker")
        space = next(s for s in self._sm.list_spaces()["Spaces"] if s["SpaceName"] == "demo")
        self._arn = self._sm.describe_space(DomainId=space["DomainId"], SpaceName="demo")[
            "SpaceArn"
        ]
        self._base_env = base_env
        aws = emulator.env
        proxy = shlex.join(
            [
                plugin,
                _RESPONSE_VAR,
                aws["AWS_DEFAULT_REGION"],
                "StartSession",
                "",  # the profile: none, the credentials are in the environment
                json.dumps({"Target": self._arn}),
                aws["AWS_ENDPOINT_URL"],  # SSM's, for ResumeSession and TerminateSession
            ]
        )
        self.argv = [
            "ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            # ssh expands %-tokens in a ProxyCommand: a literal % is %%.
            "-o", "ProxyCommand=" + proxy.replace("%", "%%"),
            "sagemaker-user@" + self._arn.rsplit("/", 1)[1],
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        """The environment of the next ssh connection: ``base_env`` and a new session."""
        try:
            grant = self._sm.start_session(ResourceIdentifier=self._arn)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise SystemExit(f"bench: StartSession for the plugin failed: {exc}") from None
        grant.pop("ResponseMetadata", None)
        return {**self._base_env, _RESPONSE_VAR: json.dumps(grant)}
