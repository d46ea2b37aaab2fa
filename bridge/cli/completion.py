"""Shell completion of option values: profiles, regions, instance types and forward ids.

typer calls these while the user presses Tab, so each one reads only what it needs (the AWS
config files, botocore's bundled data, the daemon's forward list if a daemon already runs) and
never fails: any problem completes nothing rather than printing a traceback into the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = [
    "complete_forward_id",
    "complete_instance_type",
    "complete_profile",
    "complete_region",
]


def _matching(values: Iterable[str], incomplete: str) -> list[str]:
    return sorted({v for v in values if v.startswith(incomplete)})


def _safely(source: Callable[[], Iterable[str]], incomplete: str) -> list[str]:
    try:
        return _matching(source(), incomplete)
    except Exception:
        return []


def complete_profile(incomplete: str) -> list[str]:
    """Profiles of ~/.aws/config and ~/.aws/credentials (the files the SDK reads)."""

    def profiles() -> list[str]:
        import botocore.session

        return list(botocore.session.Session().available_profiles)

    return _safely(profiles, incomplete)


def complete_region(incomplete: str) -> list[str]:
    """The regions where SageMaker has an endpoint, from botocore's partition data."""

    def regions() -> list[str]:
        import botocore.session

        session = botocore.session.Session()
        return [
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions("sagemaker", partition)
        ]

    return _safely(regions, incomplete)


def complete_instance_type(incomplete: str) -> list[str]:
    """The instance types SageMaker's API model lists for Studio apps."""

    def types() -> list[str]:
        import botocore.session

        model = botocore.session.get_session().get_service_model("sagemaker")
        shape = model.shape_for("AppInstanceType")
        return [str(v) for v in getattr(shape, "enum", [])]

    return _safely(types, incomplete)


def complete_forward_id(incomplete: str) -> list[str]:
    """The ids of the running daemon's forwards (no daemon is started to complete)."""

    def ids() -> list[str]:
        from bridge.cli import rpc

        result = rpc.call("forward.list", {}, timeout=5.0, autostart=False)
        return [str(f["id"]) for f in result.get("forwards", [])]

    return _safely(ids, incomplete)
