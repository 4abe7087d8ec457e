"""The benchmark's tables, in Markdown: readable in a terminal, pasted as is into README."""

from __future__ import annotations

from typing import Any

NAMES = {
    "help": "`help`",
    "yes": "`yes <id>`",
    "intake": "intake answer",
    "status": "`status <id>`",
}


def _lat(entry: dict[str, float]) -> str:
    return f"{entry['p50']:.0f} / {entry['p99']:.0f}"


def latency_table(results: dict[str, Any]) -> list[str]:
    echo = results["echo"]["latency"]
    lines = [
        "| backend | members | " + " | ".join(NAMES.values()) + " | burst (cmd/s) |",
        "|---|---:|" + "---:|" * (len(NAMES) + 1),
    ]
    for run in results["runs"]:
        cells = [_lat(run["latency"][name]) for name in NAMES]
        lines.append(
            f"| {run['backend']} | {run['size']:,} | "
            + " | ".join(cells)
            + f" | {run['burst']['per_s']:.0f} |"
        )
    per_s = results["echo"]["burst"]["per_s"]
    lines.append(f"| echo bot | – | {_lat(echo)} (any text) | | | | {per_s:.0f} |")
    return lines


def ratio_table(results: dict[str, Any]) -> list[str]:
    """Lantern ÷ echo at each size, and the largest network ÷ the smallest."""
    echo = results["echo"]["latency"]["p50"]
    lines = [
        "| backend | members | " + " | ".join(f"{n} ÷ echo" for n in NAMES.values()) + " |",
        "|---|---:|" + "---:|" * len(NAMES),
    ]
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        by_backend.setdefault(run["backend"], []).append(run)
        cells = [f"×{run['latency'][n]['p50'] / echo:.1f}" for n in NAMES]
        lines.append(f"| {run['backend']} | {run['size']:,} | " + " | ".join(cells) + " |")
    for backend, runs in by_backend.items():
        if len(runs) < 2:
            continue
        small, big = min(runs, key=lambda r: r["size"]), max(runs, key=lambda r: r["size"])
        cells = [f"×{big['latency'][n]['p50'] / small['latency'][n]['p50']:.2f}" for n in NAMES]
        label = f"{big['size'] // 1000}k ÷ {small['size'] // 1000}k"
        lines.append(f"| {backend} | **{label}** | " + " | ".join(cells) + " |")
    return lines


def fanout_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | members | asked | rate R | queued | delivered | ideal N ÷ R | twice |"
        " RSS / peak (MiB) | build |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        fan, mem = run["fanout"], run["memory_mib"]
        lines.append(
            f"| {run['backend']} | {run['size']:,} | {fan['people']} | {fan['rate']:.0f}/s |"
            f" {fan['queued_s']:.1f} s | {fan['delivered_s']:.1f} s | {fan['ideal_s']:.1f} s |"
            f" {fan['twice']} | {mem['rss']:.0f} / {mem['peak']:.0f} | {run['build_s']:.0f} s |"
        )
    mem = results["echo"]["memory_mib"]
    lines.append(f"| echo bot | | | | | | | | {mem['rss']:.0f} / {mem['peak']:.0f} | |")
    return lines


def crypto_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | members | "
        + " | ".join(f"{n} crypto ms (ops) / total ms" for n in NAMES.values())
        + " |",
        "|---|---:|" + "---:|" * len(NAMES),
    ]
    for run in results["runs"]:
        cells = []
        for name in NAMES:
            c = run["crypto"][name]
            cells.append(f"{c['crypto_ms']:.2f} ({c['ops']:.0f}) / {c['total_ms']:.1f}")
        lines.append(f"| {run['backend']} | {run['size']:,} | " + " | ".join(cells) + " |")
    return lines


def report(results: dict[str, Any]) -> None:
    sections = (
        ("Latency, push → first reply at the sandbox, p50 / p99 ms", latency_table),
        ("Lantern ÷ echo bot (p50), and growth with the network (p50)", ratio_table),
        ("Fan-out of one call-out, memory of the bot process", fanout_table),
        ("Encryption per command, in process (AES-GCM, HMAC, HPKE)", crypto_table),
    )
    for title, table in sections:
        print(f"\n### {title}\n")
        print("\n".join(table(results)))
