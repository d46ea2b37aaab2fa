"""The Emulator object itself: on the caller's loop, and a clean stop in every app state."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from bridge.emulator import Emulator, start_in_thread

from .emulator_helpers import DOMAIN, FAST, client, make_config, start_app, wait_for


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


class _BrokenRuntime:
    """A runtime whose start fails, as a real one does when its sockets cannot be made."""

    def __init__(self, space_name: str, app_type: str, root: Path) -> None:
        self.root = root

    async def start(self) -> None:
        raise OSError(f"cannot bind under {self.root.name}")

    async def stop(self) -> None:
        return None

    def resolve(self, host: str, port: int) -> tuple[str, int] | str:
        raise ConnectionRefusedError(port)

    async def last_activity(self) -> float | None:
        return None


def test_runtime_start_failure_fails_the_app() -> None:
    with start_in_thread(make_config(), runtime_factory=_BrokenRuntime) as emu:
        sm = client(emu, "sagemaker")
        sm.create_app(DomainId=DOMAIN, SpaceName="ce1", AppType="CodeEditor", AppName="default")

        def status() -> str:
            return str(
                sm.describe_app(
                    DomainId=DOMAIN, SpaceName="ce1", AppType="CodeEditor", AppName="default"
                )["Status"]
            )

        wait_for(status, "Failed")
        app = sm.describe_app(
            DomainId=DOMAIN, SpaceName="ce1", AppType="CodeEditor", AppName="default"
        )
        assert (
            app["FailureReason"]
            == "The app failed to start: cannot bind under d-emulator00001-ce1-space"
        )
