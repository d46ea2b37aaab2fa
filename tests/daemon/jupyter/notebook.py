"""A minimal Jupyter client over the REST + websocket API (what VS Code and JupyterLab speak).

XSRF: a space's server has an empty token and still checks the double-submit cookie on POSTs;
by default every request carries the same value in an ``_xsrf`` cookie and an ``X-XSRFToken``
header, as a browser would. The daemon's gate adds them for clients that bring the token.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

XSRF = "smconnect-test-xsrf"


@dataclass
class CellResult:
    stream: str = ""
    results: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reply_status: str | None = None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"} if token else {}


def _message(code: str, session: str) -> tuple[str, dict[str, Any]]:
    msg_id = uuid.uuid4().hex
    return msg_id, {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": session,
            "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


class Notebook:
    """One kernel on a server reached at ``url`` (ending in the base URL's slash)."""

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        ws_token_in_query: bool = False,
        xsrf: bool = True,
        kernel_id: str | None = None,
    ) -> None:
        """``ws_token_in_query``: the websocket carries the token as ``?token=`` (what
        JupyterLab does where it cannot set headers) instead of an Authorization header.
        ``xsrf=False``: no XSRF pair, as a client holding a token sends to a server.
        ``kernel_id``: attach to a running kernel (left running at exit)."""
        self.url = url
        self.token = token
        self.ws_token_in_query = ws_token_in_query
        self.xsrf = xsrf
        self._owned = kernel_id is None
        self.kernel_id = kernel_id
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session = uuid.uuid4().hex

    async def __aenter__(self) -> Notebook:
        self._http = aiohttp.ClientSession(
            headers={"X-XSRFToken": XSRF, "Cookie": f"_xsrf={XSRF}"} if self.xsrf else {},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        try:
            if self.kernel_id is None:
                async with self._http.post(
                    f"{self.url}api/kernels", json={"name": "python3"}, headers=_auth(self.token)
                ) as r:
                    assert r.status == 201, await r.text()
                    self.kernel_id = (await r.json())["id"]
            ws_url = self.url.replace("http://", "ws://", 1)
            query = f"session_id={self._session}"
            if self.ws_token_in_query:
                query += f"&token={self.token}"
            self._ws = await self._http.ws_connect(
                f"{ws_url}api/kernels/{self.kernel_id}/channels?{query}",
                headers={} if self.ws_token_in_query else _auth(self.token),
                heartbeat=None,
            )
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            if self.kernel_id is not None and self._owned:
                async with self._http.delete(
                    f"{self.url}api/kernels/{self.kernel_id}", headers=_auth(self.token)
                ) as r:
                    assert r.status == 204, await r.text()
            await self._http.close()

    async def execute(
        self,
        code: str,
        *,
        timeout: float = 60.0,
        on_stream: Callable[[str], Awaitable[None]] | None = None,
    ) -> CellResult:
        """Run a cell; return when the kernel is idle again and the reply has come."""
        assert self._ws is not None
        msg_id, message = _message(code, self._session)
        await self._ws.send_json(message)
        result = CellResult()
        idle = False
        async with asyncio.timeout(timeout):
            while not (idle and result.reply_status is not None):
                frame = await self._ws.receive()
                assert frame.type == aiohttp.WSMsgType.TEXT, frame
                msg = frame.json()
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream":
                    result.stream += content["text"]
                    if on_stream is not None:
                        await on_stream(content["text"])
                elif kind == "execute_result":
                    result.results.append(content["data"]["text/plain"])
                elif kind == "error":
                    result.errors.append(f"{content['ename']}: {content['evalue']}")
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    result.reply_status = content["status"]
        return result
