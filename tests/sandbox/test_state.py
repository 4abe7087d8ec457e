"""SandboxState on its own: lookups, clocks, waiting, and the standalone server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import phonenumbers
import pytest

from sandbox import SandboxState
from sandbox.faults import FaultConfig


def test_persona_lookup_by_uuid_number_username_and_name(state: SandboxState) -> None:
    ana = state.create_persona("Ana")
    assert ana.number is not None
    assert phonenumbers.is_valid_number(phonenumbers.parse(ana.number))
    for key in (ana.uuid, ana.number, ana.username, "ana", "ANA"):
        assert state.persona(key) is ana
    with pytest.raises(KeyError):
        state.persona("Zed")


def test_persona_numbers_are_validated_and_unique(state: SandboxState) -> None:
    state.create_persona("Ana", number="+4915112345678")
    with pytest.raises(ValueError, match="already used"):
        state.create_persona("Ann", number="+4915112345678")
    with pytest.raises(ValueError, match="valid"):
        state.create_persona("Bad", number="+1202555")
    hidden = state.create_persona("Hid", hidden_number=True)
    assert hidden.number is None


def test_state_timestamps_strictly_increase(state: SandboxState) -> None:
    stamps = [state.now_ms() for _ in range(50)]
    assert stamps == sorted(set(stamps))


async def test_state_inject_without_receiver_is_lost_but_recorded(state: SandboxState) -> None:
    state.create_persona("Ana")
    result = await state.inject_text_detailed("Ana", "hello?")
    assert result.delivered_to_receivers == 0
    assert state.injected == [result.envelope]


async def test_state_inject_into_foreign_group_is_refused(state: SandboxState) -> None:
    state.create_persona("Ana")
    state.create_persona("Ben")
    group = state.create_group("Cell", ["Ana"])
    with pytest.raises(ValueError, match="not a member"):
        await state.inject_text("Ben", "let me in", group_id=group.public_id)


async def test_state_wait_for_deliveries_explains_timeout(state: SandboxState) -> None:
    ana = state.create_persona("Ana")
    state.record_delivery(
        timestamp=1,
        recipient=ana.uuid,
        persona=ana.uuid,
        text="one",
        expires_in_seconds=0,
        quote_timestamp=None,
    )
    with pytest.raises(TimeoutError, match=r"expected 2 deliveries to Ana.*'one'"):
        await state.wait_for_deliveries("Ana", 2, timeout=0.1)


async def test_state_wait_for_deliveries_wakes_on_delivery(state: SandboxState) -> None:
    ana = state.create_persona("Ana")
    waiter = asyncio.create_task(state.wait_for_deliveries(ana.uuid, 1, timeout=2))
    await asyncio.sleep(0.05)
    state.record_delivery(
        timestamp=1,
        recipient=ana.uuid,
        persona=ana.uuid,
        text="x",
        expires_in_seconds=0,
        quote_timestamp=None,
    )
    [d] = await waiter
    assert d.seq == state.last_seq


def test_faults_bucket_refills_over_time() -> None:
    faults = FaultConfig()
    faults.update(rate_limit_per_second=1000, rate_limit_burst=1)
    assert faults.take_send_token()
    assert not faults.take_send_token()
    faults._refilled_at -= 0.01  # as if 10 ms had passed
    assert faults.take_send_token()


async def test_server_standalone_logs_url_and_stops_on_sigint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "from sandbox.server import run_standalone; "
        f"run_standalone('127.0.0.1', {port}, '+12025550100')"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 20)
    assert f"http://127.0.0.1:{port}" in line.decode()
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_state_refuses_to_emit_envelope_signalbot_would_drop(
    state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox import ContractViolation, envelopes

    original = envelopes.data_message

    def without_timestamp(**kwargs: object) -> dict[str, object]:
        msg = original(**kwargs)  # type: ignore[arg-type]
        del msg["timestamp"]  # required by the schema and by signalbot's model
        return msg

    monkeypatch.setattr(envelopes, "data_message", without_timestamp)
    state.create_persona("Ana")
    with pytest.raises(ContractViolation, match="dataMessage"):
        await state.inject_text("Ana", "never sent")
    assert state.injected == []
