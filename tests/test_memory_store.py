"""MemoryStore's bound: least recently used records go first."""

from __future__ import annotations

from wsgisession import MemoryStore


def test_least_recently_used_is_evicted() -> None:
    store = MemoryStore(max_entries=3)
    for key in "abc":
        store.save(key, key.encode(), 60)
    store.load("a")  # a is now the most recently used
    store.save("d", b"d", 60)
    assert store.load("b") is None
    assert [k for k in "acd" if store.load(k) is not None] == ["a", "c", "d"]
    assert store.count() == 3
