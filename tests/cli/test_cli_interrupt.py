"""Ctrl-C during `smconnect start`: the CLI says the app keeps starting (the request was made)
and how to stop it, and exits 130 (a real subprocess, a real SIGINT, the emulator)."""

from __future__ import annotations

import signal
import time
from dataclasses import replace

import boto3

from bridge.emulator import start_in_thread
from bridge.emulator.config import DelaysConfig

from .cli_helpers import DOMAIN, Cli, cli_config


def test_ctrl_c_during_start_says_the_app_keeps_starting_and_exits_130(
    offline_cli: Cli,
) -> None:
    slow = replace(cli_config(), delays=DelaysConfig(app_start=60.0, app_stop=0.1))
    with start_in_thread(slow) as emu:
        offline_cli.env.update(emu.env)
        sm = boto3.Session(
            aws_access_key_id=emu.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=emu.env["AWS_SECRET_ACCESS_KEY"],
            region_name=emu.env["AWS_DEFAULT_REGION"],
        ).client("sagemaker", endpoint_url=emu.endpoint_url)
        start = offline_cli.popen("start", "editor")
        try:
            deadline = time.monotonic() + 60
            status = None
            while status != "Pending" and time.monotonic() < deadline:
                apps = sm.list_apps(DomainIdEquals=DOMAIN, SpaceNameEquals="editor")["Apps"]
                status = apps[0]["Status"] if apps else None
                time.sleep(0.2)
            assert status == "Pending", "the start never reached CreateApp"
            time.sleep(0.5)  # the progress notification reaches the CLI
            start.send_signal(signal.SIGINT)
            _, stderr = start.communicate(timeout=30)
        finally:
            start.kill()
        assert start.returncode == 130, stderr
        assert "Traceback" not in stderr
        last = stderr.strip().splitlines()[-1]
        assert "keeps starting" in last and "`smconnect stop editor`" in last, stderr
        # It does keep starting: nothing was undone.
        apps = sm.list_apps(DomainIdEquals=DOMAIN, SpaceNameEquals="editor")["Apps"]
        assert apps[0]["Status"] in ("Pending", "InService")
