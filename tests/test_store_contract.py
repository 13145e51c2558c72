"""The store contract suite against the stores shipped in the core."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgisession.memory import MemoryStore
from wsgisession.sqlite import SQLiteStore
from wsgisession.testing import CountClearContract, PruneContract, RoundTripContract, StoreContract, StoreFactory


class TestMemoryStore(StoreContract, PruneContract, CountClearContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        shared = MemoryStore()

        def make(prefix: str) -> MemoryStore:
            # One dict behind every prefix, as a server would be.
            store = MemoryStore(prefix=prefix)
            store._records = shared._records
            store._lock = shared._lock
            return store

        return make


class TestSQLiteStore(StoreContract, PruneContract, CountClearContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        path = str(tmp_path / "sessions.db")
        return lambda prefix: SQLiteStore(path, prefix=prefix)


class TestMemoryRoundTrips(RoundTripContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda prefix: MemoryStore(prefix=prefix)


class TestSQLiteRoundTrips(RoundTripContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        path = str(tmp_path / "sessions.db")
        return lambda prefix: SQLiteStore(path, prefix=prefix)
