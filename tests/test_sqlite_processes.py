"""SQLiteStore shared by several processes and threads at once, as under a pre-forking server."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

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


def _create_after(barrier: Any, path: str, key: str) -> None:
    store = SQLiteStore(path)
    barrier.wait()
    store.save(key, b"x", 60)
    store.close()


def _open_from_threads(path: str, threads: int) -> list[BaseException]:
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            _create_after(barrier, path, f"key-{n}")
        except BaseException as exc:
            errors.append(exc)

    running = [threading.Thread(target=create, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return errors


def test_threads_opening_a_new_file_at_once(tmp_path: Path) -> None:
    # The first connections to a new file race to switch it to WAL; none may fail.
    for round_ in range(25):
        path = str(tmp_path / f"sessions-{round_}.db")
        assert _open_from_threads(path, 8) == []
        check = SQLiteStore(path)
        assert check.count() == 8
        check.close()


def test_workers_opening_a_new_file_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(5):
        path = str(tmp_path / f"sessions-{round_}.db")
        barrier = context.Barrier(4)
        workers = [context.Process(target=_create_after, args=(barrier, path, f"key-{n}")) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
        check = SQLiteStore(path)
        assert check.count() == 4
        check.close()
