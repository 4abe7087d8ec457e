"""The bot as a real operating-system process (``lantern run``), for tests that kill it.

An in-process "crash" (cancelling tasks) still lets shielded work finish; ``SIGKILL`` on a
child process does not, which is what a power cut or an OOM kill does to a server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from bot.config import Settings
from bot.i18n import translate
from sandbox.state import Persona, SandboxState


def lantern_command() -> list[str]:
    found = shutil.which("lantern", path=str(Path(sys.executable).parent))
    return [found, "run"] if found else [sys.executable, "-m", "bot.cli", "run"]


def environment(settings: Settings) -> dict[str, str]:
    """Every setting as the ``LANTERN_*`` variable an operator would set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    for name, value in settings.model_dump(mode="json").items():
        # an unset optional setting is empty, as docker-compose passes it
        text = "" if value is None else json.dumps(value) if isinstance(value, list) else str(value)
        env[f"LANTERN_{name.upper()}"] = text
    return env


_RUNNING: set[BotProcess] = set()


def kill_all() -> None:
    """Kill every child a test left running (a failed assertion skips its ``stop``)."""
    for bot in list(_RUNNING):
        bot.kill()


class BotProcess:
    """One ``lantern run`` child at a time; its output goes to a log file for post-mortems."""

    def __init__(self, settings: Settings, state: SandboxState, log_path: Path) -> None:
        self.settings = settings
        self.state = state
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    async def start(self, wait_seconds: float = 30.0) -> None:
        assert self._proc is None, "already running"
        # a killed process's websocket may still be counted for a moment: count openings
        before = self.state.connections
        self._proc = self._spawn()
        _RUNNING.add(self)
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while self.state.connections <= before:
            if self._proc.poll() is not None:
                raise AssertionError(f"lantern run exited: {self.log_path.read_text()[-2000:]}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("lantern run never connected to the sandbox")
            await asyncio.sleep(0.05)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._log = self.log_path.open("ab")
        return subprocess.Popen(
            lantern_command(),
            env=environment(self.settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: nothing in the process gets to finish what it was doing."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(timeout=10)
        self._close()

    async def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self._proc.wait, 20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        _RUNNING.discard(self)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def unseal(self, coordinators: list[Persona], shares: dict[str, str], k: int) -> None:
        """k coordinators send their words, as after any restart."""
        done = translate("en", "unseal.done")
        for person in coordinators[:k]:
            cursor = self.state.last_seq
            await self.state.inject_text(person.uuid, f"unseal {shares[person.uuid]}")
            await self.state.wait_for_deliveries(person.uuid, 1, since=cursor, timeout=20)
        last = coordinators[k - 1]
        texts = [d.text for d in self.state.deliveries(persona=last.uuid)]
        assert done in texts, "the bot did not unseal"
