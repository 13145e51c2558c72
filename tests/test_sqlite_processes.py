"""SQLiteStore shared by several processes and threads at once, as under a pre-forking server."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from wsgisession import SQLiteStore, VersionConflict

KEY = "shared-counter"


def _increment(path: str, times: int) -> int:
    store = SQLiteStore(path)
    conflicts = 0
    for _ in range(times):
        while True:
            record = store.load(KEY)
            assert record is not None
            try:
                store.save(KEY, str(int(record.data) + 1).encode(), 60, record.version)
                break
            except VersionConflict:
                conflicts += 1
    store.close()
    return conflicts


def test_processes_lose_no_increment(tmp_path: Path) -> None:
    path = str(tmp_path / "sessions.db")
    store = SQLiteStore(path)
    store.save(KEY, b"0", 60)
    # The parent has an open connection when the workers fork: they must not reuse it.
    context = multiprocessing.get_context("fork")
    with context.Pool(3) as pool:
        pool.starmap(_increment, [(path, 40)] * 3)
    record = store.load(KEY)
    assert record is not None and record.data == b"120"
    store.close()
