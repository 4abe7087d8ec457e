"""One per-sender rate limit, identical for members, strangers, former and banned."""

from __future__ import annotations

from bot.app import LanternApp
from bot.ratelimit import RateLimiter
from tests.conftest import Chat, new_account
from tests.helpers import join
from tests.network import Network


def test_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # senders are independent
    now[0] += 1.0
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_full_buckets_are_forgotten_when_memory_is_tight() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0], max_senders=3)
    for sender in "abc":
        limiter.allow(sender)
    now[0] += 10
    limiter.allow("d")
    assert len(limiter._buckets) <= 3


async def test_member_and_stranger_hit_the_same_limit(
    net: Network, chat: Chat, app: LanternApp
) -> None:
    member = new_account()
    await join(chat, net, member, "busy")
    chat.dispatcher.limiter = RateLimiter(per_minute=1, burst=5)
    stranger = new_account()
    answered = {}
    for who in (member, stranger):
        answered[who] = sum([len(await chat.send(who, "hello")) > 0 for _ in range(8)])
    assert answered[member] == answered[stranger] == 5
