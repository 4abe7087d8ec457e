"""What envelope encryption costs per command, measured in process.

The bot process cannot be instrumented from outside, so after its run the same database
is opened in this process, unsealed with two coordinators' words like the bot is, and
each command goes through the real ``Dispatcher.on_text`` with every cryptographic
primitive wrapped in a counter and a clock: AES-256-GCM field and key encryption
(:class:`~security.FieldCipher`), blind indexes (HMAC), and the HPKE seal of the inbound
journal.  The result is the crypto time and operation count per command next to that
command's whole in-process time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchkit.world import BOT_NUMBER, Capture, World
from bot.app import LanternApp
from bot.config import Settings
from bot.ratelimit import RateLimiter
from security import BacklogSealer, FieldCipher
from security.fields import BlindIndex
from security.sealing import BacklogOpener

PRIMITIVES: tuple[tuple[type, str], ...] = (
    (FieldCipher, "encrypt"),
    (FieldCipher, "decrypt"),
    (BlindIndex, "digest"),
    (BacklogSealer, "seal"),
    (BacklogOpener, "open"),
)


class Meter:
    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.seconds = 0.0

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = [(cls, name, getattr(cls, name)) for cls, name in PRIMITIVES]
        for cls, name, original in saved:
            setattr(cls, name, self._wrap(f"{cls.__name__}.{name}", original))
        try:
            yield
        finally:
            for cls, name, original in saved:
                setattr(cls, name, original)

    def _wrap(self, key: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.ops[key] += 1

        return timed


async def measure(
    world: World, data_dir: Path, samples: dict[str, list[tuple[str, str]]]
) -> dict[str, dict[str, Any]]:
    """Per command: mean total ms, mean crypto ms, crypto operations per command."""
    settings = Settings(bot_number=BOT_NUMBER, data_dir=data_dir, database_url=world.url)
    app = LanternApp(settings)
    dispatcher = app.make_dispatcher(Capture())
    dispatcher.limiter = RateLimiter(per_minute=1e9, burst=10**9)
    out: dict[str, dict[str, Any]] = {}
    try:
        await app.vault.start()
        for who in world.coordinators[:2]:
            await app.vault.submit_share(world.shares[who])
        if app.vault.sealed:
            raise RuntimeError("could not unseal in process")
        ts = 1_800_000_000_000
        for name, messages in samples.items():
            meter, total = Meter(), 0.0
            with meter.installed():
                for account, text in messages:
                    ts += 1
                    started = time.perf_counter()
                    await dispatcher.on_text(account, ts, text)
                    total += time.perf_counter() - started
            n = len(messages)
            out[name] = {
                "n": n,
                "total_ms": total / n * 1000,
                "crypto_ms": meter.seconds / n * 1000,
                "ops": sum(meter.ops.values()) / n,
                "by_op": {k: v / n for k, v in sorted(meter.ops.items())},
            }
    finally:
        app.vault.seal()
        await app.db.dispose()
    return out
