"""Profile the write scenario on memory and SQLite with cProfile and name the slowest
place in our per-request path (by own time, among wsgisession's functions)."""

from __future__ import annotations

import cProfile
import os
import pstats
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from .wsgi import environ, new_session, ours, runner

CALLS = 20_000


def profile_writes(log: Callable[[str], None], calls: int = CALLS) -> dict[str, Any]:
    """For each store: the top functions by own time and the slowest one of ours."""
    workdir = tempfile.mkdtemp(prefix="wsgisession-bench-prof-")
    found = {}
    try:
        for name, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{workdir}/prof.db")):
            log(f"profile write on {name}")
            found[name] = _profile(url, calls)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


def _profile(url: str, calls: int) -> dict[str, Any]:
    target = ours(url)
    cookie = new_session(target)
    run = runner(target.app)
    envs = [environ("/write", cookie) for _ in range(calls)]
    profiler = cProfile.Profile()
    profiler.enable()
    for env in envs:
        run(env)
    profiler.disable()
    target.close()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (path, line, func), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {"where": f"{_short(path)}:{line}:{func}", "own_share": tottime / total, "cum_share": cumtime / total}
        )
    rows.sort(key=lambda r: r["own_share"], reverse=True)
    ours_rows = [r for r in rows if "wsgisession" in r["where"]]
    top = [{**r, "own_share": round(r["own_share"], 3), "cum_share": round(r["cum_share"], 3)} for r in rows[:12]]
    slowest = ours_rows[0] if ours_rows else None
    return {
        "calls": calls,
        "us_per_call_profiled": round(total / calls * 1e6, 1),
        "top_by_own_time": top,
        "slowest_of_ours": slowest and {**slowest, "own_share": round(slowest["own_share"], 3)},
        "ours_share": round(sum(r["own_share"] for r in ours_rows), 3),
    }


def _short(path: str) -> str:
    for marker in ("wsgisession/", "site-packages/", "lib/python"):
        if marker in path:
            return path[path.index(marker) :]
    return os.path.basename(path)
