"""Registering methods: typed params resolve even when other annotations are typing-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytest

from bridge.daemon import rpc
from bridge.daemon.dispatch import Api, build_params

if TYPE_CHECKING:
    from collections.abc import Sequence  # never importable at runtime from this module

    from bridge.daemon.server import Connection


@dataclass
class OpenParams:
    host: str
    port: int = 22
    mode: Literal["stdio", "forward"] = "stdio"
    timeout: float | None = None
    tags: list[str] = field(default_factory=list)


def test_typing_only_annotations_do_not_break_registration() -> None:
    api = Api()

    @api.method("proxy.open")
    async def open_proxy(conn: Connection, params: OpenParams) -> Sequence[str]:
        return [params.host]

    assert "proxy.open" in api.names()
    with pytest.raises(ValueError, match="already registered"):
        api.add("proxy.open", open_proxy)


def test_handler_shape_is_checked() -> None:
    async def one_arg(conn: Any) -> None:
        return None

    with pytest.raises(TypeError):
        Api().add("bad", one_arg)


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"host": "demo"}, True),
        ({"host": "demo", "port": 2222, "mode": "forward", "timeout": 1, "tags": ["a"]}, True),
        ({"host": "demo", "timeout": None}, True),
        ({"host": "demo", "mode": "other"}, False),
        ({"host": "demo", "port": "22"}, False),
        ({"host": "demo", "port": 22.0}, False),
        ({"host": "demo", "tags": "a"}, False),
        ({"port": 22}, False),
    ],
)
def test_dataclass_params(params: dict[str, Any], ok: bool) -> None:
    if ok:
        assert isinstance(build_params(OpenParams, params), OpenParams)
    else:
        with pytest.raises(rpc.ApiError) as err:
            build_params(OpenParams, params)
        assert err.value.code == rpc.INVALID_PARAMS
