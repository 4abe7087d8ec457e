"""Running the sandbox: in-process for tests, or standalone for `lantern sandbox`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from types import TracebackType

from aiohttp import web

from sandbox.api import build_app
from sandbox.state import SandboxState

log = logging.getLogger("sandbox")


class SandboxServer:
    """An aiohttp server exposing the emulated API and the control API on one port."""

    def __init__(
        self, state: SandboxState | None = None, *, bot_number: str = "+12025550100"
    ) -> None:
        self.state = state if state is not None else SandboxState(bot_number=bot_number)
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind (port 0 = any free port) and serve in the running event loop."""
        if self._runner is not None:
            raise RuntimeError("sandbox server already started")
        runner = web.AppRunner(build_app(self.state), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        # Binding ourselves tells us the port the OS picked for port=0.
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._host = host

    @property
    def url(self) -> str:
        """``host:port``, the form signalbot's ``Config.signal_service`` wants."""
        if self._runner is None:
            raise RuntimeError("sandbox server not started")
        return f"{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.url}"

    async def stop(self) -> None:
        """Close receivers first so the bot sees a dropped connection, then the server."""
        if self._runner is None:
            return
        await self.state.drop_receivers()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def _serve(host: str, port: int, bot_number: str) -> None:
    server = SandboxServer(bot_number=bot_number)
    await server.start(host, port)
    log.info("Signal sandbox listening on %s (control API under /sandbox)", server.base_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        log.info("Signal sandbox stopped")


def run_standalone(host: str, port: int, bot_number: str) -> None:
    """Serve until Ctrl-C/SIGTERM; blocking. Logging setup is left to the caller if done."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, bot_number))
