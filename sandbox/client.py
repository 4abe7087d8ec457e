"""Async client of the control API, mirroring SandboxState for out-of-process use.

Tests that run the sandbox in another process (``lantern sandbox``), and the terminal
demo, drive it through this instead of touching SandboxState directly.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import aiohttp

from sandbox.models import BotAction, Delivered, Persona


class SandboxError(RuntimeError):
    """The control API refused a request; carries its status and error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox answered {status}: {message}")
        self.status = status


class SandboxClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 - per-request HTTP timeout
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self._session.request(
            method,
            f"{self.base_url}/sandbox{path}",
            json=json,
            params=query,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            if resp.status == 204:
                return None
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                message = body.get("error", body) if isinstance(body, dict) else body
                raise SandboxError(resp.status, str(message))
            return body

    # ----- personas and groups -----------------------------------------------------------
    async def create_persona(self, name: str, *, hidden_number: bool = False) -> Persona:
        data = await self._call(
            "POST", "/personas", json={"name": name, "hidden_number": hidden_number}
        )
        return Persona.from_dict(data)

    async def personas(self) -> list[Persona]:
        return [Persona.from_dict(p) for p in await self._call("GET", "/personas")]

    async def change_identity(self, persona: str) -> Persona:
        return Persona.from_dict(await self._call("POST", f"/personas/{persona}/identity"))

    async def create_group(self, name: str, members: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", "/groups", json={"name": name, "members": members}
        )
        return result

    # ----- inbound -----------------------------------------------------------------------
    async def send_text(
        self,
        persona: str,
        text: str,
        *,
        group_id: str | None = None,
        quote_timestamp: int | None = None,
    ) -> int:
        body = {
            "persona": persona,
            "text": text,
            "group_id": group_id,
            "quote_timestamp": quote_timestamp,
        }
        data = await self._call(
            "POST", "/messages", json={k: v for k, v in body.items() if v is not None}
        )
        return int(data["timestamp"])

    async def react(
        self,
        persona: str,
        emoji: str,
        target_timestamp: int,
        *,
        remove: bool = False,
        group_id: str | None = None,
    ) -> int:
        body: dict[str, Any] = {
            "persona": persona,
            "emoji": emoji,
            "target_timestamp": target_timestamp,
            "remove": remove,
        }
        if group_id is not None:
            body["group_id"] = group_id
        data = await self._call("POST", "/reactions", json=body)
        return int(data["timestamp"])

    # ----- outbound ----------------------------------------------------------------------
    async def deliveries(self, *, persona: str | None = None, since: int = 0) -> list[Delivered]:
        data = await self._call("GET", "/deliveries", params={"persona": persona, "since": since})
        return [Delivered.from_dict(d) for d in data["deliveries"]]

    async def wait_for_deliveries(
        self,
        persona: str | None,
        count: int,
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors SandboxState
    ) -> list[Delivered]:
        """Long-polls the server; TimeoutError lists what did arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(0.0, deadline - loop.time())
            data = await self._call(
                "GET",
                "/deliveries",
                params={
                    "persona": persona,
                    "since": since,
                    "count": count,
                    "wait": round(remaining, 3) or None,
                },
                timeout=remaining + 10,
            )
            found = [Delivered.from_dict(d) for d in data["deliveries"]]
            if len(found) >= count:
                return found[:count]
            if loop.time() >= deadline:
                everything = await self.deliveries(since=since)
                seen = [f"#{d.seq} {d.persona}: {d.text!r}" for d in everything]
                raise TimeoutError(
                    f"expected {count} deliveries to {persona or 'anyone'} after seq "
                    f"{since}; arrived: {seen or 'nothing'}"
                )

    async def actions(self, *, since: int = 0) -> list[BotAction]:
        data = await self._call("GET", "/actions", params={"since": since})
        return [BotAction(**a) for a in data["actions"]]

    async def wait_for_receiver(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        data = await self._call("GET", "/receiver", params={"wait": timeout}, timeout=timeout + 10)
        if not data["connected"]:
            raise TimeoutError("no /v1/receive websocket connected")

    async def drop_websocket(self, *, clean: bool = False, down_seconds: float = 0.0) -> int:
        body = {"clean": clean, "down_seconds": down_seconds}
        data = await self._call("POST", "/receiver/drop", json=body)
        return int(data["dropped"])

    # ----- faults and lifecycle ----------------------------------------------------------
    async def set_faults(self, **kwargs: Any) -> None:
        await self._call("PUT", "/faults", json=kwargs)

    async def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/faults")
        return result

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
