"""The bot as operators run it, timed from the outside.

``lantern run`` (unmodified signalbot inside) and a bare signalbot echo bot run as child
processes against the local Signal sandbox.  Every time is taken *at the sandbox*: from
the moment a person's message is pushed down the bot's receive websocket to the moment
the bot's first reply to that person reaches ``/v2/send``.  So a number includes
signalbot's parsing and queueing, Lantern's whole path (rate limit, sealed journal, one
transaction, crypto, outbox) and the HTTP send, as a member would feel it — minus Signal.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.models import Delivered
from sandbox.state import SandboxState

ECHO = Path(__file__).with_name("echo_bot.py")


@dataclass
class FanWatch:
    ref: str
    people: set[str]
    got: set[str] = field(default_factory=set)
    twice: int = 0
    last: float = 0.0


class Watch:
    """Wraps the sandbox's delivery record so each delivery is timed as it happens."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.fan: FanWatch | None = None
        record = state.record_delivery

        def timed(**kwargs: Any) -> Delivered:
            delivered = record(**kwargs)
            self._seen(delivered, time.perf_counter())
            return delivered

        state.record_delivery = timed  # type: ignore[method-assign]

    def _seen(self, delivered: Delivered, at: float) -> None:
        who = delivered.persona or ""
        waiter = self.waiting.pop(who, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)
        fan = self.fan
        if fan is not None and who in fan.people and fan.ref in (delivered.text or ""):
            if who in fan.got:
                fan.twice += 1
            fan.got.add(who)
            fan.last = at

    async def roundtrip(self, persona: str, text: str, timeout: float = 60.0) -> float:  # noqa: ASYNC109
        """Seconds from the push to the first reply to that persona."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[persona] = waiter
        started = time.perf_counter()
        await self.state.inject_text(persona, text)
        return await asyncio.wait_for(waiter, timeout) - started

    async def burst(self, messages: list[tuple[str, str]]) -> tuple[float, list[float]]:
        """All at once, as when a call-out makes everyone answer: wall time, latencies."""
        started = time.perf_counter()
        latencies = await asyncio.gather(*(self.roundtrip(p, t, 120.0) for p, t in messages))
        return time.perf_counter() - started, list(latencies)

    async def quiet(self, seconds: float = 0.3) -> None:
        """Let trailing replies (a command's second message) land before the next one."""
        last = self.state.last_seq
        while True:
            await asyncio.sleep(seconds)
            if self.state.last_seq == last:
                return
            last = self.state.last_seq


class EchoBot:
    """The baseline: signalbot with one handler that sends the text back."""

    def __init__(self, state: SandboxState, service: str, log: Path) -> None:
        self.state, self.service, self.log = state, service, log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        before = self.state.receiver_count
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our script; returns at once
                [sys.executable, str(ECHO), self.service, self.state.bot_number],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for _ in range(600):
            if self.state.receiver_count > before:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"the echo bot exited; see {self.log}")
            await asyncio.sleep(0.05)
        raise RuntimeError("the echo bot never connected")

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 20)
            self.proc = None


def memory_of(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MiB (Linux /proc)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def pct(samples: list[float], q: float) -> float:
    """Percentile by nearest rank, in ms (p99 of 60 samples is their maximum: say so)."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank] * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": pct(samples, 50),
        "p99": pct(samples, 99),
        "mean": statistics.fmean(samples) * 1000,
    }
