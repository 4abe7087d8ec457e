"""The benchmark's baseline: a bare signalbot 2.2 bot that sends every text back.

Same library, same sandbox, same process model as ``lantern run``, and nothing else: the
ratio Lantern ÷ echo is what Lantern itself adds to a reply.

    python scripts/benchkit/echo_bot.py <host:port> <bot number>
"""

from __future__ import annotations

import logging
import sys

from signalbot import DataMessageContext, DataMessageHandler, SendMessage, SignalBot


class Echo(DataMessageHandler):
    async def handle_data_message(self, context: DataMessageContext) -> None:
        if context.message.source_uuid is None:
            return
        await context.send(SendMessage(text=context.message.text or ""))


def main() -> None:
    service, number = sys.argv[1], sys.argv[2]
    bot = SignalBot(
        {
            "phone_number": number,
            "signal_service": service,
            "connection_mode": "http_only",
            "storage": {"type": "in-memory"},
            "download_attachments": False,
            "logging_level": logging.WARNING,
        }
    )
    bot.register(Echo(), groups=False)
    bot.start()


if __name__ == "__main__":
    main()
