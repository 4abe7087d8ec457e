"""Waiting for the world to change without polling.

Tests wait for "the bot has answered" or "the bot has reconnected"; every mutation of the
state calls :meth:`Notifier.notify`, and waiters re-check their condition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Notifier:
    """Wake every pending waiter; futures are created in the waiter's own running loop."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_until(
        self,
        ready: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 - a deadline spanning many short waits
        describe: Callable[[], str],
    ) -> None:
        """Return once ``ready()``; TimeoutError carrying ``describe()`` after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(describe())
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                continue
