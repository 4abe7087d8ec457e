"""``make bench`` must keep working: the end-to-end benchmark, run at its smallest size.

Nothing here checks a speed (numbers on a shared CI machine mean little); it checks that
the benchmark still drives the real bot through the sandbox and that what it reports is
whole: every command answered, every invitation delivered once, the echo baseline run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)


def test_bench_e2e_runs_at_the_smallest_size_and_reports_everything(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_e2e.py"),
            *("--sizes", "1000", "--backend", "sqlite", "--samples", "3", "--warmup", "1"),
            *("--crypto-samples", "2", "--fanout", "40", "--burst", "20", "--rate", "100"),
            *("--json", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    [run] = results["runs"]
    assert run["size"] == 1000 and run["backend"] == "sqlite"
    assert set(run["latency"]) == {"help", "yes", "intake", "status"}
    assert all(entry["n"] == 3 for entry in run["latency"].values())
    assert run["fanout"]["people"] == 40 and run["fanout"]["twice"] == 0
    assert run["memory_mib"]["rss"] > 0
    assert all(c["ops"] > 0 for c in run["crypto"].values())
    assert results["echo"]["latency"]["n"] > 0
    assert "100k ÷ 1k" not in done.stdout  # one size: no growth row to show
    assert "Lantern ÷ echo" in done.stdout
