"""Timing one case: warm-up, repeated rounds, per-call samples, median and p99."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

Prepare = Callable[[int], Sequence[Any]]
Run = Callable[[Any], None]


@dataclass(frozen=True)
class Case:
    """Something to time: ``prepare(n)`` builds n arguments outside the clock (fresh
    environs, sessions to destroy), ``run(arg)`` is the timed call."""

    prepare: Prepare
    run: Run


@dataclass(frozen=True)
class Budget:
    """How long to time each case: rounds of about ``round_seconds`` each, between
    ``min_iterations`` and ``max_iterations`` calls, after ``warmup`` calls."""

    rounds: int = 5
    round_seconds: float = 0.25
    min_iterations: int = 100
    max_iterations: int = 5000
    warmup: int = 200


@dataclass(frozen=True)
class Stats:
    """Per-call microseconds: the median and p99 of every sample, and the spread
    (lowest and highest) of the per-round medians."""

    median_us: float
    p99_us: float
    round_min_us: float
    round_max_us: float
    samples: int

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def measure(case: Case, budget: Budget) -> Stats:
    """Time ``case`` under ``budget``."""
    warm = case.prepare(budget.warmup)
    started = time.perf_counter()
    for arg in warm:
        case.run(arg)
    per_call = (time.perf_counter() - started) / max(len(warm), 1)
    iterations = int(budget.round_seconds / max(per_call, 1e-7))
    iterations = max(budget.min_iterations, min(budget.max_iterations, iterations))
    samples: list[int] = []
    medians: list[float] = []
    for _ in range(budget.rounds):
        taken = _round(case, iterations)
        medians.append(statistics.median(taken) / 1000)
        samples.extend(taken)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    return Stats(statistics.median(samples) / 1000, p99, min(medians), max(medians), len(samples))


def _round(case: Case, iterations: int) -> list[int]:
    args = case.prepare(iterations)
    run, clock = case.run, time.perf_counter_ns
    taken = [0] * len(args)
    for index, arg in enumerate(args):
        start = clock()
        run(arg)
        taken[index] = clock() - start
    return taken
