"""The method registry: ``@api.method("name")`` on ``async def handler(conn, params)``.

The params annotation decides the shape: ``dict[str, Any]`` passes the object through, a
dataclass is built from it with unknown/missing/mistyped fields answered as -32602 before the
handler runs, so handlers never validate by hand.

The registry knows nothing of the server: ``conn`` is whatever the server passes (its
``Connection``), handed through untouched, so this module sits below ``server`` with no cycle.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.daemon.rpc import METHOD_NOT_FOUND, ApiError, invalid_params

Handler = Callable[[Any, Any], Awaitable[Any]]
H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class _Method:
    handler: Handler
    params_type: Any


class Api:
    def __init__(self) -> None:
        self._methods: dict[str, _Method] = {}

    def method(self, name: str) -> Callable[[H], H]:
        def register(fn: H) -> H:
            self.add(name, fn)
            return fn

        return register

    def add(self, name: str, fn: Callable[..., Awaitable[Any]]) -> None:
        if name in self._methods:
            raise ValueError(f"method {name!r} is already registered")
        parameters = list(inspect.signature(fn).parameters.values())
        if len(parameters) != 2:
            raise TypeError(f"{name}: a handler takes (conn, params)")
        self._methods[name] = _Method(handler=fn, params_type=_params_type(fn, parameters[1]))

    def names(self) -> list[str]:
        return sorted(self._methods)

    async def call(self, conn: object, name: str, params: dict[str, Any]) -> Any:
        entry = self._methods.get(name)
        if entry is None:
            raise ApiError(
                f"method not found: {name[:100]}", kind="method_not_found", code=METHOD_NOT_FOUND
            )
        return await entry.handler(conn, build_params(entry.params_type, params))


def _params_type(fn: Callable[..., Any], param: inspect.Parameter) -> Any:
    """Resolve only the params annotation: others may name types imported for TYPE_CHECKING."""
    if param.annotation is inspect.Parameter.empty:
        return Any
    holder = types.SimpleNamespace(__annotations__={"params": param.annotation})
    globalns = getattr(inspect.unwrap(fn), "__globals__", {})
    return typing.get_type_hints(holder, globalns=globalns)["params"]


def build_params(tp: Any, params: dict[str, Any]) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build_dataclass(tp, params)
    if tp is Any or tp is dict or typing.get_origin(tp) is dict:
        return params
    if tp is type(None):
        if params:
            raise invalid_params("this method takes no parameters")
        return None
    raise TypeError(f"unsupported params annotation {tp!r}")


def _build_dataclass(cls: type[Any], params: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise invalid_params(f"unknown parameter(s): {', '.join(unknown)[:200]}")
    hints = typing.get_type_hints(cls)
    for name, field in fields.items():
        if name not in params:
            no_default = field.default is dataclasses.MISSING
            if no_default and field.default_factory is dataclasses.MISSING:
                raise invalid_params(f"missing parameter: {name}")
            continue
        if not _matches(params[name], hints.get(name, Any)):
            raise invalid_params(f"parameter {name} has the wrong type")
    return cls(**params)


def _matches(value: Any, tp: Any) -> bool:
    """A shallow check that covers what JSON can carry; nested containers are not descended."""
    if tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is type(None):
        return value is None
    check = origin or tp
    if check is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if check is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(check, type):
        return isinstance(value, check)
    return True
