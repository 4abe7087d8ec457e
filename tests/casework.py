"""Bringing a fight and walking a case through its life, as people do it over Signal."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.conftest import Chat
from tests.network import Network

CASE_REF = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b")

ANSWERS_EN = [
    "The landlord kept the deposits of everyone who moved out this year",
    "Acme Properties, manager J. Doe",
    "12 Oak Street apt 4",
    "Return every deposit in full",
    "Six families in the building",
    "1",
    "yes",
    "Messages only, evenings after 6",
]
ANSWERS_ES = [
    "El patrón no nos paga las horas extra desde marzo",
    "Limpiezas Brillo S.L.",
    "Calle Mayor 5, nave 2",
    "Que paguen todas las horas extra",
    "Doce compañeras del turno de noche",
    "1",
    "sí",
    "Solo mensajes, por la mañana",
]


@dataclass
class Case:
    ref: str
    subject: str


def case_ref_in(texts: list[str]) -> str:
    for text in reversed(texts):
        found = CASE_REF.search(text)
        if found:
            return found.group(1)
    raise AssertionError(f"no case id in {texts!r}")


async def open_intake(chat: Chat, net: Network, label: str = "Riverside tenants") -> None:
    await chat.send(net.organizer, f"cell intake {net.cell} on {label}")


async def bring_fight(
    chat: Chat,
    who: str,
    *,
    lang: str = "en",
    name: str | None = "Rosa",
    answers: list[str] | None = None,
) -> Case:
    """``name`` None: ``who`` is a member (no language or name question)."""
    answers = answers or (ANSWERS_ES if lang == "es" else ANSWERS_EN)
    await chat.send(who, "intake" if lang == "en" else "lucha")
    if name is not None:
        await chat.send(who, lang)
    for answer in answers:
        await chat.send(who, answer)
    if name is not None:
        await chat.send(who, name)
    replies = await chat.send(who, "yes" if lang == "en" else "sí")
    return Case(case_ref_in(replies), who)
