"""Apps through their real lifecycle, UpdateSpace's restart semantics, and the error answers
for calls made in the wrong state."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DelaysConfig, FaultsConfig

from .emulator_helpers import DOMAIN, app_status, client, make_config, start_app, wait_for


def _code(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def _create(sm: Any, space: str, app_type: str = "CodeEditor", name: str = "default") -> Any:
    return sm.create_app(DomainId=DOMAIN, SpaceName=space, AppType=app_type, AppName=name)


def _delete(sm: Any, space: str, app_type: str = "CodeEditor", name: str = "default") -> Any:
    return sm.delete_app(DomainId=DOMAIN, SpaceName=space, AppType=app_type, AppName=name)


def test_create_then_delete_walks_the_real_states(emu: EmulatorThread, sm: Any) -> None:
    arn = _create(sm, "ce1")["AppArn"]
    assert (
        arn == "arn:aws:sagemaker:us-east-1:123456789012:app/d-emulator00001/ce1/codeeditor/default"
    )
    assert app_status(sm, "ce1") == "Pending"
    wait_for(lambda: app_status(sm, "ce1"), "InService")
    app = sm.describe_app(DomainId=DOMAIN, SpaceName="ce1", AppType="CodeEditor", AppName="default")
    assert app["ResourceSpec"]["InstanceType"] == "ml.t3.large"
    assert [a["Status"] for a in sm.list_apps(SpaceNameEquals="ce1")["Apps"]] == ["InService"]
    runtime = emu.emulator.plane.account.apps[(DOMAIN, "ce1", "CodeEditor", "default")].runtime
    assert runtime is not None

    _delete(sm, "ce1")
    assert app_status(sm, "ce1") == "Deleting"
    wait_for(lambda: app_status(sm, "ce1"), "Deleted")
    assert getattr(runtime, "running", None) is False  # the SpaceRuntime was stopped
    assert _code(lambda: _delete(sm, "ce1"))[0] == "ValidationException"
    # A deleted app can be created again.
    start_app(sm, "ce1")


def test_create_app_conflicts(sm: Any) -> None:
    code, message = _code(lambda: _create(sm, "ce1", app_type="JupyterLab"))
    assert code == "ValidationException"
    assert "does not match" in message
    _create(sm, "ce1")
    code, message = _code(lambda: _create(sm, "ce1"))
    assert code == "ResourceInUse"
    assert message.endswith("already exists.")
    assert _code(lambda: _create(sm, "ce1", name="other"))[0] == "ResourceInUse"
    # Pending apps cannot be deleted yet.
    assert _code(lambda: _delete(sm, "ce1"))[0] == "ResourceInUse"
    assert _code(lambda: _create(sm, "nope"))[0] == "ResourceNotFound"
    assert _code(lambda: _delete(sm, "ce2"))[0] == "ResourceNotFound"


def test_failed_app_start_fault() -> None:
    cfg = make_config(faults=FaultsConfig(fail_app_start=("ce2",)))
    with start_in_thread(cfg) as emu:
        sm = client(emu, "sagemaker")
        _create(sm, "ce2")
        wait_for(lambda: app_status(sm, "ce2"), "Failed")
        app = sm.describe_app(
            DomainId=DOMAIN, SpaceName="ce2", AppType="CodeEditor", AppName="default"
        )
        assert "emulated fault" in app["FailureReason"]
        assert _code(lambda: _delete(sm, "ce2"))[0] == "ValidationException"

        async def heal() -> None:
            emu.emulator.plane.faults.fail_app_start.clear()

        emu.call(heal)
        start_app(sm, "ce2")  # a failed app can be created again


def test_update_space_takes_effect_after_restart(emu: EmulatorThread, sm: Any) -> None:
    start_app(sm, "ce-locked")
    arn = sm.describe_space(DomainId=DOMAIN, SpaceName="ce-locked")["SpaceArn"]
    code, message = _code(lambda: sm.start_session(ResourceIdentifier=arn))
    assert code == "ValidationException"
    assert message.startswith("Remote access is not enabled for space 'ce-locked'")

    settings = {
        "RemoteAccess": "ENABLED",
        "CodeEditorAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.m5.xlarge"}},
    }
    sm.update_space(DomainId=DOMAIN, SpaceName="ce-locked", SpaceSettings=settings)
    described = sm.describe_space(DomainId=DOMAIN, SpaceName="ce-locked")
    assert described["Status"] == "Updating"
    assert described["SpaceSettings"]["RemoteAccess"] == "ENABLED"
    spec = described["SpaceSettings"]["CodeEditorAppSettings"]["DefaultResourceSpec"]
    assert spec["InstanceType"] == "ml.m5.xlarge"
    assert (
        _code(
            lambda: sm.update_space(DomainId=DOMAIN, SpaceName="ce-locked", SpaceSettings=settings)
        )[0]
        == "ResourceInUse"
    )
    wait_for(
        lambda: sm.describe_space(DomainId=DOMAIN, SpaceName="ce-locked")["Status"], "InService"
    )

    # The running app keeps what it started with.
    app = sm.describe_app(
        DomainId=DOMAIN, SpaceName="ce-locked", AppType="CodeEditor", AppName="default"
    )
    assert app["ResourceSpec"]["InstanceType"] == "ml.t3.large"
    code, message = _code(lambda: sm.start_session(ResourceIdentifier=arn))
    assert code == "ValidationException"
    assert "Restart the app" in message

    _delete(sm, "ce-locked")
    wait_for(lambda: app_status(sm, "ce-locked"), "Deleted")
    start_app(sm, "ce-locked")
    app = sm.describe_app(
        DomainId=DOMAIN, SpaceName="ce-locked", AppType="CodeEditor", AppName="default"
    )
    assert app["ResourceSpec"]["InstanceType"] == "ml.m5.xlarge"
    time.sleep(0.35)  # past the InternalFailure window
    assert sm.start_session(ResourceIdentifier=arn)["SessionId"]


def test_update_space_validation(sm: Any) -> None:
    code, _ = _code(
        lambda: sm.update_space(
            DomainId=DOMAIN, SpaceName="ce1", SpaceSettings={"AppType": "JupyterLab"}
        )
    )
    assert code == "ValidationException"
    code, message = _code(
        lambda: sm.update_space(
            DomainId=DOMAIN,
            SpaceName="ce1",
            SpaceSettings={
                "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.large"}}
            },
        )
    )
    assert (code, message) == (
        "ValidationException",
        "JupyterLabAppSettings cannot be set on a CodeEditor space.",
    )
    code, _ = _code(
        lambda: sm.update_space(
            DomainId=DOMAIN, SpaceName="ce1", SpaceSettings={"RemoteAccess": "MAYBE"}
        )
    )
    assert code == "ValidationException"
    assert (
        _code(lambda: sm.update_space(DomainId=DOMAIN, SpaceName="nope"))[0] == "ResourceNotFound"
    )


def test_seeded_running_app_is_in_service_at_start() -> None:
    base = make_config(delays=replace(DelaysConfig(), start_session_failure_window=5.0))
    domain = base.domains[0]
    spaces = tuple(replace(s, app_running=s.name == "ce1") for s in domain.spaces)
    cfg = replace(base, domains=(replace(domain, spaces=spaces),))
    with start_in_thread(cfg) as emu:
        sm = client(emu, "sagemaker")
        assert app_status(sm, "ce1") == "InService"
        arn = sm.describe_space(DomainId=DOMAIN, SpaceName="ce1")["SpaceArn"]
        assert sm.start_session(ResourceIdentifier=arn)["TokenValue"]


def test_instance_type_checked_against_the_service_model(sm: Any) -> None:
    """An unknown type is refused before anything starts; known ones come from botocore."""

    def create(instance_type: str) -> None:
        sm.create_app(
            DomainId=DOMAIN,
            SpaceName="ce1",
            AppType="CodeEditor",
            AppName="default",
            ResourceSpec={"InstanceType": instance_type},
        )

    with pytest.raises(ClientError) as info:
        create("ml.bogus.huge")
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        "1 validation error detected: Value 'ml.bogus.huge' at 'resourceSpec.instanceType' "
        "failed to satisfy constraint: Member must satisfy enum value set: ["
    )
    assert "ml.t3.medium" in error["Message"]
    assert app_status(sm, "ce1") is None  # nothing was created
    with pytest.raises(ClientError) as info:
        sm.update_space(
            DomainId=DOMAIN,
            SpaceName="ce1",
            SpaceSettings={
                "CodeEditorAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.nope"}}
            },
        )
    assert (
        "at 'spaceSettings.codeEditorAppSettings.defaultResourceSpec.instanceType'"
        in (info.value.response["Error"]["Message"])
    )
    create("ml.m5.xlarge")
    app = sm.describe_app(DomainId=DOMAIN, SpaceName="ce1", AppType="CodeEditor", AppName="default")
    assert app["ResourceSpec"]["InstanceType"] == "ml.m5.xlarge"
