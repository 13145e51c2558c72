"""``python -m benchmarks [--quick] [--stores memory,sqlite] [--out DIR]``."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import report, stores
from .run import Options, Run, run
from .timing import Budget

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
QUICK = Budget(rounds=2, round_seconds=0.02, min_iterations=20, max_iterations=200, warmup=10)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run in under a minute (no scale, HTTP or profile)"
    )
    parser.add_argument("--stores", default=",".join(stores.STORES), help="comma-separated stores to measure")
    parser.add_argument(
        "--out", help="results directory (default: benchmarks/results, or a temporary one with --quick)"
    )
    parser.add_argument("--no-anchors", action="store_true", help="skip Beaker, Flask-Session and Django")
    parser.add_argument("--no-scale", action="store_true", help="skip the session-count and payload series")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn + wrk run")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of the write scenario")
    parser.add_argument("--http-seconds", type=int, default=8, help="seconds wrk loads each app")
    parser.add_argument("--iterations", type=int, help="exactly this many calls per round (for smoke tests)")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failed case")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the results."""
    args = parse(argv)
    began = time.monotonic()
    options = Options(
        quick=args.quick,
        stores=tuple(s for s in args.stores.split(",") if s),
        anchors=not args.no_anchors,
        scale=not (args.quick or args.no_scale),
        budget=QUICK if args.quick else Budget(),
    )
    if args.iterations:
        n = args.iterations
        options.budget = Budget(rounds=2, round_seconds=0, min_iterations=n, max_iterations=n, warmup=n)
    result = run(options)
    if not (args.quick or args.no_http):
        from . import http

        _extra(result, "http", lambda: http.run_http(args.http_seconds, options.log))
    if not (args.quick or args.no_profile):
        from . import profiling

        _extra(result, "profile", lambda: profiling.profile_writes(options.log))
    outdir = args.out or (tempfile.mkdtemp(prefix="wsgisession-bench-") if args.quick else RESULTS)
    paths = report.save_all(outdir, result, "quick" if args.quick else "latest")
    summary = report.summarize(result.rows)
    print(report.table(summary, result.rows))
    scale = report.scale_table(result.rows)
    if scale:
        print("\n" + scale)
    if result.extra.get("http"):
        print("\n" + report.http_table(result.extra["http"]))
    for what, why in result.skipped.items():
        print(f"skipped {what}: {why}")
    print(f"\nwrote {', '.join(paths.values())} in {time.monotonic() - began:.0f} s")
    return 0


def _extra(result: Run, name: str, produce: Callable[[], Any]) -> None:
    """Run one optional part; a failure is reported as skipped, and the rest is kept."""
    try:
        result.extra[name] = produce()
    except Exception as exc:
        result.skip(name, f"failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
