"""The benchmark suite still runs: its quick path on the memory store, a few calls per
case, in a subprocess (Django's settings are per process). Nothing about time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The benchmark suite is not installed with the package; it runs from the checkout.
sys.path.append(str(ROOT))

from benchmarks import http, report  # noqa: E402

SCENARIOS = {"untouched", "read", "write", "create", "destroy"}


def test_quick_run_on_memory_writes_every_output(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "--quick",
        "--stores",
        "memory",
        "--iterations",
        "5",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "quick.json").read_text())
    measured = {(r["stack"], r["scenario"]) for r in results["rows"] if r["store"] == "memory"}
    for scenario in SCENARIOS:
        assert ("wsgisession", scenario) in measured
        assert ("floor", scenario) in measured
    failed = {what: why for what, why in results["skipped"].items() if why.startswith("failed")}
    assert not failed
    assert {line["scenario"] for line in results["summary"]} == SCENARIOS
    assert all(line["ratio"] > 0 for line in results["summary"])
    assert "| memory | write |" in (tmp_path / "quick.md").read_text()
    assert results["machine"]["cores"]


def test_summary_compares_session_cost_with_the_anchors() -> None:
    rows = [
        {"store": "-", "scenario": "-", "stack": "bare", "median_us": 1.0, "p99_us": 2.0, "sessions": None},
        {
            "store": "m",
            "scenario": "write",
            "stack": "wsgisession",
            "median_us": 11.0,
            "p99_us": 20.0,
            "sessions": None,
        },
        {"store": "m", "scenario": "write", "stack": "floor", "median_us": 5.5, "p99_us": 9.0, "sessions": None},
        {"store": "m", "scenario": "write", "stack": "beaker", "median_us": 41.0, "p99_us": 90.0, "sessions": None},
    ]
    [line] = report.summarize(rows)
    assert line["ratio"] == 2.0
    assert line["over_bare_us"] == 10.0
    assert line["anchors"]["beaker"]["x_slower"] == 4.0


def test_wrk_output_is_parsed() -> None:
    text = """Running 8s test @ http://127.0.0.1:1/write
  Latency Distribution
     50%    3.64ms
     75%    5.00ms
     90%   11.24ms
     99%  188.00us
  16000 requests in 8.00s, 1.2MB read
Requests/sec:   1580.51
"""
    parsed = http._parse(text)
    assert parsed == {"rps": 1580.51, "p50_ms": 3.64, "p90_ms": 11.24, "p99_ms": 0.188, "non_2xx": 0}
