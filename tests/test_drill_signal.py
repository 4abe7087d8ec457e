"""Fault drills on the Signal side: slow answers, 429 and 5xx bursts while members talk to
the bot, and the receive websocket dropped for a while (once, repeatedly, cleanly).

The bot is the real one (unmodified signalbot, the dispatcher, the outbox) against the
sandbox.  What must hold:

- every message the bot *received* is answered, exactly once, whatever Signal answers;
- a slow Signal slows the bulk, not the replies to people who just wrote;
- sending goes on while the receive side is down, and the bot is listening again within
  a few seconds of the service coming back, however often it flapped (signalbot's own
  retry doubles up to five minutes: see ``bot/app.py``'s receiver watch);
- a text sent to the bot while nothing was listening is lost: signal-cli-rest-api keeps
  nothing for an absent websocket client, and the drill says so rather than hide it.

Run with ``-s`` to see the measured numbers (they go in the closing note).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from bot.outbox_rows import TokenBucket
from sandbox.state import Persona
from tests.canary import debug_logs
from tests.live import Live
from tests.test_e2e_fanout import REF, callout_counts, seed, wait_until

pytestmark = pytest.mark.timeout(240)


def replies_to(
    live: Live, people: list[Persona], since: int, *, besides: str = "\x00"
) -> Counter[str]:
    """Messages each person got since ``since``, leaving out those holding ``besides``
    (a call-out's reference: its invitation is not a reply)."""
    wanted = {p.uuid for p in people}
    return Counter(
        d.persona
        for d in live.state.deliveries(since=since)
        if d.persona in wanted and besides not in (d.text or "")
    )


async def call_out(live: Live) -> str:
    """An action for the whole cell, sent now; its reference."""
    assert live.organizer is not None
    line = "callout Picket at the office | in 3 days | 12 Oak St | 10"
    await live.talk(live.organizer, line, replies=2)
    confirmed = await live.say(live.organizer, "yes")
    found = REF.search(confirmed)
    assert found is not None, confirmed
    return found.group(1)


async def answered_once(live: Live, people: list[Persona], since: int, seconds: float) -> float:
    """Wait until each person has one reply since ``since``; no one may get two."""
    started = time.monotonic()
    await wait_until(lambda: len(replies_to(live, people, since)) == len(people), seconds)
    took = time.monotonic() - started
    await asyncio.sleep(0.5)  # a second copy would show up now
    counts = replies_to(live, people, since)
    assert set(counts.values()) == {1}, counts
    return took


async def test_drill_slow_signal_answers_slow_the_bulk_not_the_replies(booted_live: Live) -> None:
    live = booted_live
    people = await seed(live, 12)
    ref = await call_out(live)
    latency = 1.5
    live.state.faults.update(latency_ms=int(latency * 1000))  # every emulated endpoint
    await wait_until(lambda: len(callout_counts(live, ref, people)) >= 1, 20)

    # three people write while the fan-out crawls at one message per 1.5 s
    askers = people[:3]
    cursor = live.state.last_seq
    await asyncio.gather(*(live.state.inject_text(p.uuid, "help") for p in askers))
    started = time.monotonic()
    got: dict[str, float] = {}

    def helped() -> bool:
        for persona in replies_to(live, askers, cursor, besides=ref):
            got.setdefault(persona, time.monotonic() - started)
        return len(got) == len(askers)

    await wait_until(helped, 20)
    slowest = max(got.values())
    # each reply waits for its own send (and a fresh identity list), never for the fan-out
    assert slowest < 3 * latency + 1.5, got
    await wait_until(lambda: len(callout_counts(live, ref, people)) == len(people), 60)
    fanout = time.monotonic() - started
    live.state.faults.clear()
    await asyncio.sleep(0.5)
    counts = callout_counts(live, ref, people)
    assert set(counts.values()) == {1}, counts
    helps = replies_to(live, askers, cursor, besides=ref)
    assert set(helps.values()) == {1}, helps
    print(
        f"\nslow Signal ({latency:.1f} s per request): help answered in"
        f" {min(got.values()):.1f}-{slowest:.1f} s during a fan-out to {len(people)}"
        f" that took {fanout:.1f} s; duplicates 0"
    )


async def test_drill_5xx_and_429_bursts_while_members_talk(booted_live: Live) -> None:
    live = booted_live
    people = await seed(live, 10)

    # half of all sends fail with 502/503 for a while: every command answered, once
    live.state.faults.update(
        fail_probability=0.5, fail_status=503, fail_path_prefix="/v2/send", seed=11
    )
    cursor = live.state.last_seq
    await asyncio.gather(*(live.state.inject_text(p.uuid, "help") for p in people))
    took_5xx = await answered_once(live, people, cursor, 30)
    live.state.faults.clear()

    # Signal rate-limits (429) well below the burst: the replies wait it out, none is lost
    live.state.faults.update(rate_limit_per_second=2.0, rate_limit_burst=2)
    cursor = live.state.last_seq
    await asyncio.gather(*(live.state.inject_text(p.uuid, "me") for p in people))
    took_429 = await answered_once(live, people, cursor, 60)
    live.state.faults.clear()

    # and afterwards the bot is itself again
    cursor = live.state.last_seq
    await asyncio.gather(*(live.state.inject_text(p.uuid, "help") for p in people))
    took_after = await answered_once(live, people, cursor, 10)
    assert took_after < 3.0, took_after
    print(
        f"\n{len(people)} members at once: 50% 503s answered all in {took_5xx:.1f} s;"
        f" 429 at 2/s in {took_429:.1f} s; afterwards {took_after:.2f} s; duplicates 0"
    )


async def down_and_back(live: Live, seconds: float, *, clean: bool = False) -> float:
    """Cut the websocket, keep receiving down ``seconds``; how long after the service
    came back the bot was listening again."""
    before = live.state.connections
    await live.state.drop_receivers(clean=clean, down_seconds=seconds)
    back = time.monotonic() + seconds
    await wait_until(lambda: live.state.connections > before, seconds + 30)
    return max(0.0, time.monotonic() - back)


async def test_drill_websocket_dropped_sending_goes_on_and_listening_resumes(
    booted_live: Live,
) -> None:
    live = booted_live
    people = await seed(live, 40)
    live.app.dispatcher.outbox.bucket = TokenBucket(10.0, 1)  # a fan-out of 40 takes ~4 s
    ref = await call_out(live)
    await wait_until(lambda: len(callout_counts(live, ref, people)) >= 1, 10)

    # the receive side goes down for 3 s in the middle of the fan-out
    asked_at_drop = len(callout_counts(live, ref, people))
    drop = asyncio.create_task(down_and_back(live, 3.0))
    await asyncio.sleep(0.5)
    lost = people[-1]
    cursor = live.state.last_seq
    await live.state.inject_text(lost.uuid, "help")  # nobody is listening
    await asyncio.sleep(2.0)
    asked_while_down = len(callout_counts(live, ref, people)) - asked_at_drop
    assert asked_while_down >= 10, asked_while_down  # sending did not stop
    first = await drop
    await wait_until(lambda: len(callout_counts(live, ref, people)) == len(people), 30)
    assert set(callout_counts(live, ref, people).values()) == {1}
    assert not replies_to(live, [lost], cursor, besides=ref)  # lost with the websocket

    # it flaps: three more outages in a row; each time the bot listens again promptly
    with debug_logs(every_library=False) as logs:
        flaps = [await down_and_back(live, 2.0) for _ in range(3)]
        clean = await down_and_back(live, 0.0, clean=True)  # a clean close (code 1000)
    written = logs.getvalue()
    assert "event='receiver_lost'" in written and "duration_ms=" in written, written[-500:]
    assert "[dropped]" not in written and "Traceback" not in written
    assert max([first, *flaps]) < 6.5, (first, flaps)
    assert clean < 6.5, clean

    cursor = live.state.last_seq
    await asyncio.gather(*(live.state.inject_text(p.uuid, "help") for p in people[:5]))
    await answered_once(live, people[:5], cursor, 10)
    print(
        f"\nwebsocket down 3 s mid fan-out: {asked_while_down} members asked meanwhile;"
        f" listening again {first:.1f} s after the service came back; after flaps"
        f" {', '.join(f'{f:.1f}' for f in flaps)} s; after a clean close {clean:.1f} s;"
        " the text sent while down was lost upstream (as signal-cli-rest-api loses it)"
    )
