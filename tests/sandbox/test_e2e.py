"""An unmodified signalbot.SignalBot against the sandbox, in-process."""

from __future__ import annotations

from signalbot import DataMessageHandler, ReactionHandler, SendMessage
from signalbot.context import DataMessageContext, ReactionContext

from sandbox import SandboxServer, SandboxState
from tests.sandbox.conftest import running_bot


class Echo(DataMessageHandler):
    async def handle_data_message(self, context: DataMessageContext) -> None:
        await context.send(SendMessage(text=f"echo: {context.message.text}"))


class ReactionAck(ReactionHandler):
    async def handle_reaction(self, context: ReactionContext) -> None:
        msg = context.message
        await context.send(SendMessage(text=f"saw {msg.emoji} on {msg.timestamp}"))


async def test_signalbot_echoes_normal_and_hidden_number_people(
    server: SandboxServer, state: SandboxState
) -> None:
    ana = state.create_persona("Ana")
    ben = state.create_persona("Ben", hidden_number=True)
    async with running_bot(server, Echo(), ReactionAck()):
        cursor = state.last_seq
        await state.inject_text("Ana", "hello")
        await state.inject_text(ben.uuid, "hi from hiding")
        [to_ana] = await state.wait_for_deliveries("Ana", 1, since=cursor)
        [to_ben] = await state.wait_for_deliveries("Ben", 1, since=cursor)

        assert (to_ana.text, to_ana.recipient) == ("echo: hello", ana.uuid)
        assert (to_ben.text, to_ben.recipient) == ("echo: hi from hiding", ben.uuid)

        cursor = state.last_seq
        await state.inject_reaction("Ana", "👍", to_ana.timestamp)
        [ack] = await state.wait_for_deliveries("Ana", 1, since=cursor)
        assert ack.text == f"saw 👍 on {to_ana.timestamp}"


async def test_signalbot_replies_in_group_to_every_member(
    server: SandboxServer, state: SandboxState
) -> None:
    state.create_persona("Ana")
    state.create_persona("Ben", hidden_number=True)
    group = state.create_group("Cell", ["Ana", "Ben"])
    async with running_bot(server, Echo()) as bot:
        await state.inject_text("Ben", "meeting?", group_id=group.public_id)
        sent = await state.wait_for_deliveries(None, 2)
        assert {d.persona for d in sent} == {p.uuid for p in state.personas()}
        assert all(d.recipient == group.public_id and d.text == "echo: meeting?" for d in sent)
        assert group.internal_id in bot.groups  # learnt from GET /v1/groups


async def test_signalbot_sees_the_disappearing_timer_it_set(
    server: SandboxServer, state: SandboxState
) -> None:
    class Timer(DataMessageHandler):
        async def handle_data_message(self, context: DataMessageContext) -> None:
            from signalbot.contacts import UpdateContact

            await context.update_contact(UpdateContact(expiration_in_seconds=3600))
            await context.send(SendMessage(text=f"timer was {context.message.expires_in_seconds}"))

    state.create_persona("Ana")
    async with running_bot(server, Timer()):
        await state.inject_text("Ana", "first")
        [first] = await state.wait_for_deliveries("Ana", 1)
        await state.inject_text("Ana", "second")
        [_, second] = await state.wait_for_deliveries("Ana", 2)
    assert (first.text, first.expires_in_seconds) == ("timer was 0", 3600)
    assert (second.text, second.expires_in_seconds) == ("timer was 3600", 3600)
