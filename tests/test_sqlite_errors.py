"""SQLiteStore's errors: unavailable when the file cannot be used now, a StoreError
that says what to change when the configuration is wrong."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from wsgisession import SQLiteStore, StoreError, StoreUnavailable

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="SQLite's error codes reach Python from 3.11")


def test_a_table_holding_something_else_names_it(tmp_path: Path) -> None:
    path = str(tmp_path / "app.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    store = SQLiteStore(path, table="users")
    for _ in range(50):
        with pytest.raises(StoreError, match=r"table users: no such column.*choose another table name") as caught:
            store.load("k")
        assert not isinstance(caught.value, StoreUnavailable)
    assert len(store._connections) == 0, "a connection that failed to set up is closed, not kept"
    store.close()


def test_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "missing" / "sessions.db"))
    with pytest.raises(StoreUnavailable, match=r"missing/sessions\.db"):
        store.load("k")
