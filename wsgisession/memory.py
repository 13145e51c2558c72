"""MemoryStore: sessions in a dict of this process, for development and tests.

Each process has its own: under a pre-forking server with several workers a
session made in one worker is unknown to the others. Use SQLite or a server-backed
store there.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict

from .store import Record, VersionConflict
from .urls import parse_store_url

__all__ = ["MemoryStore"]


class MemoryStore:
    """A bounded, thread-safe, in-process store.

    At most ``max_entries`` records are kept; past that the least recently used one
    is evicted. Expired records are never returned and are dropped when met.
    """

    def __init__(self, max_entries: int = 10_000, prefix: str = "") -> None:
        if max_entries < 1:
            raise ValueError("MemoryStore max_entries must be at least 1")
        self.max_entries = max_entries
        self.prefix = prefix
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()
        self._versions = itertools.count(1)

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """Build from ``memory://?max_entries=10000&prefix=app1:``."""
        parsed = parse_store_url(url)
        store = cls(parsed.integer("max_entries", 10_000, minimum=1), parsed.text("prefix", ""))
        parsed.finish()
        return store

    def load(self, key: str) -> Record | None:
        """Return the live record under ``key`` and mark it recently used."""
        key = self.prefix + key
        with self._lock:
            record = self._live(key, time.time())
            if record is not None:
                self._records.move_to_end(key)
            return record

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Create (``version=None``) or conditionally replace the record."""
        key = self.prefix + key
        with self._lock:
            now = time.time()
            current = self._live(key, now)
            if version is None and current is not None:
                raise VersionConflict(f"a session record already exists under {key!r}")
            if version is not None and (current is None or current.version != version):
                raise VersionConflict(f"session record {key!r} changed or vanished")
            new_version = next(self._versions)
            self._records[key] = Record(bytes(data), new_version, now + ttl)
            self._records.move_to_end(key)
            while len(self._records) > self.max_entries:
                self._records.popitem(last=False)
            return new_version

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry of a live record."""
        key = self.prefix + key
        with self._lock:
            now = time.time()
            current = self._live(key, now)
            if current is None:
                return False
            self._records[key] = Record(current.data, current.version, now + ttl)
            self._records.move_to_end(key)
            return True

    def delete(self, key: str) -> None:
        """Remove the record if present."""
        with self._lock:
            self._records.pop(self.prefix + key, None)

    def close(self) -> None:
        """Nothing to release; records are kept."""

    def prune(self) -> int:
        """Drop every expired record; return how many."""
        with self._lock:
            now = time.time()
            expired = [k for k, r in self._records.items() if r.expires_at <= now and k.startswith(self.prefix)]
            for key in expired:
                del self._records[key]
            return len(expired)

    def count(self) -> int:
        """Number of live records under this store's prefix."""
        now = time.time()
        with self._lock:
            return sum(1 for k, r in self._records.items() if r.expires_at > now and k.startswith(self.prefix))

    def clear(self) -> None:
        """Drop every record under this store's prefix."""
        with self._lock:
            for key in [k for k in self._records if k.startswith(self.prefix)]:
                del self._records[key]

    def _live(self, key: str, now: float) -> Record | None:
        record = self._records.get(key)
        if record is not None and record.expires_at <= now:
            del self._records[key]
            return None
        return record
