"""The Emulator object itself: on the caller's loop, and a clean stop in every app state."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from emulator_helpers import DOMAIN, FAST, client, make_config, start_app, wait_for

from bridge.emulator import Emulator, start_in_thread


async def test_emulator_on_the_current_loop() -> None:
    emulator = Emulator(make_config())
    await emulator.start()
    try:
        env = emulator.env()
        assert env["AWS_ENDPOINT_URL"] == emulator.endpoint_url
        assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
        assert env["AWS_ACCESS_KEY_ID"] == "AKIAEMULATOR00000001"

        def whoami() -> str:
            import boto3

            session = boto3.Session(
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                region_name="us-east-1",
            )
            sts = session.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"])
            return str(sts.get_caller_identity()["Account"])

        assert await asyncio.to_thread(whoami) == "123456789012"
        assert emulator.broker.pacing == "realistic"
    finally:
        await emulator.stop()


def test_stop_cleans_up_running_and_pending_apps() -> None:
    cfg = make_config(delays=replace(FAST, app_start=0.1))
    with start_in_thread(cfg) as emu:
        sm = client(emu, "sagemaker")
        start_app(sm, "ce1")
        root = emu.emulator.root
        assert root.is_dir()
        plane = emu.emulator.plane
        runtime = plane.account.apps[(DOMAIN, "ce1", "CodeEditor", "default")].runtime

        async def slow_starts() -> None:
            plane.delays = replace(plane.delays, app_start=30.0)

        emu.call(slow_starts)
        sm.create_app(DomainId=DOMAIN, SpaceName="ce2", AppType="CodeEditor", AppName="default")
        wait_for(
            lambda: sm.describe_app(
                DomainId=DOMAIN, SpaceName="ce2", AppType="CodeEditor", AppName="default"
            )["Status"],
            "Pending",
        )
    assert getattr(runtime, "running", None) is False
    assert not root.exists()
