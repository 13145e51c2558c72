"""The whole run: every store, scenario, floor, anchor and scale point, into one result."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import datetime
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import anchors, floors, machine, stores
from .timing import Budget, Case, measure
from .wsgi import DEFAULT_PAYLOAD, PAYLOADS, SCENARIOS, Target, bare_app, new_session, ours, scenario_case

SCALES = (1_000, 100_000, 1_000_000)
HOT_SESSIONS = 1000


@dataclass
class Options:
    """What to run."""

    quick: bool = False
    stores: tuple[str, ...] = stores.STORES
    anchors: bool = True
    scale: bool = True
    scales: tuple[int, ...] = SCALES
    budget: Budget = field(default_factory=Budget)
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)


@dataclass
class Run:
    """The measurements of one run, as JSON-ready rows."""

    options: Options
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def time(self, case: Case, **where: Any) -> None:
        """Measure ``case`` and keep the row; a case that fails is recorded as skipped."""
        label = "/".join(str(v) for v in where.values())
        try:
            stats = measure(case, self.options.budget)
        except Exception as exc:
            self.skip(label, f"failed: {type(exc).__name__}: {exc}")
            if "--debug" in sys.argv:
                traceback.print_exc()
            return
        row = {"payload": DEFAULT_PAYLOAD, "sessions": None, **where, **stats.as_dict()}
        self.rows.append(row)
        self.options.log(f"  {label:<48} median {stats.median_us:9.1f} us   p99 {stats.p99_us:9.1f} us")

    def skip(self, what: str, reason: str) -> None:
        """Record that ``what`` was not measured, and why."""
        self.skipped[what] = reason
        self.options.log(f"  {what}: skipped ({reason})")


def run(options: Options) -> Run:
    """Measure everything ``options`` asks for."""
    result = Run(options)
    result.extra["machine"] = machine.describe()
    result.extra["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result.extra["mode"] = "quick" if options.quick else "full"
    options.log("bare WSGI app")
    result.time(scenario_case(Target("bare", bare_app, None), "untouched"), store="-", scenario="-", stack="bare")
    if options.anchors:
        for name, target in anchors.framework_floors():
            if isinstance(target, str):
                result.skip(name, target)
            else:
                result.time(scenario_case(target, "untouched"), store="-", scenario="-", stack=name)
    workdir = stores.workdir()
    try:
        for name in options.stores:
            run_store(result, name, workdir)
    finally:
        anchors.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def run_store(result: Run, name: str, workdir: str) -> None:
    """Every scenario of one store: ours, its floor, its anchors, then its scale points."""
    log = result.options.log
    log(f"store {name}")
    backend = stores.open_backend(name, workdir)
    if isinstance(backend, str):
        result.skip(name, backend)
        return
    try:
        from wsgisession import open_store

        store = open_store(backend.url)
        target = ours(store)
        ops = backend.ops()
        floor = floors.floor_target(ops, "floor")
        try:
            for scenario in SCENARIOS:
                result.time(scenario_case(target, scenario), store=name, scenario=scenario, stack="wsgisession")
                result.time(floors.floor_case(floor, ops, scenario), store=name, scenario=scenario, stack="floor")
            if result.options.anchors:
                run_anchors(result, name, backend, workdir)
            if result.options.scale:
                run_scale(result, name, backend, store, target)
        finally:
            floor.close()
            target.close()
    finally:
        backend.cleanup()


def run_anchors(result: Run, name: str, backend: stores.Backend, workdir: str) -> None:
    """Each anchor that supports this store, on the five scenarios."""
    for anchor, target in anchors.anchors_for(name, backend, workdir):
        if isinstance(target, str):
            result.skip(f"{name}/{anchor}", target)
            continue
        try:
            for scenario in SCENARIOS:
                result.time(scenario_case(target, scenario), store=name, scenario=scenario, stack=anchor)
        finally:
            target.close()


def run_scale(result: Run, name: str, backend: stores.Backend, store: Any, target: Target) -> None:
    """Read and write with many sessions stored, then with bigger payloads."""
    log = result.options.log
    for payload_name, size in PAYLOADS.items():
        cookies = [new_session(target, size) for _ in range(min(HOT_SESSIONS, 200 if size > 10_000 else HOT_SESSIONS))]
        for scenario in ("read", "write"):
            case = scenario_case(target, scenario, size, cookies)
            result.time(case, store=name, scenario=scenario, stack="wsgisession", payload=size, sessions=HOT_SESSIONS)
        log(f"  payload {payload_name} done")
    backend.clear(store)
    cookies = [new_session(target) for _ in range(HOT_SESSIONS)]
    filled = HOT_SESSIONS
    for total in result.options.scales:
        stored = _count(store)
        have = stored if stored is not None else filled
        if total > have:
            log(f"  loading {total - have:,} filler sessions")
            backend.fill(store, total - have)
            filled += total - have
            stored = _count(store)
        for scenario in ("read", "write"):
            case = scenario_case(target, scenario, DEFAULT_PAYLOAD, cookies)
            where = {"store": name, "scenario": scenario, "stack": "wsgisession", "sessions": total, "stored": stored}
            result.time(case, **where)


def _count(store: Any) -> int | None:
    from wsgisession import Countable

    return store.count() if isinstance(store, Countable) else None
