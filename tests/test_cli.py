"""The wsgisession command line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wsgisession import SQLiteStore
from wsgisession.cli import main


def test_secret_prints_a_long_random_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secret"]) == 0
    first = capsys.readouterr().out.strip()
    main(["secret"])
    assert len(first) >= 48 and first != capsys.readouterr().out.strip()


def test_prune_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    store = SQLiteStore(f"{tmp_path}/s.db")
    store.save("live", b"x", 60)
    store.save("dead", b"x", 1)
    time.sleep(1.1)
    assert main(["stats", "--store", url]) == 0
    assert "live sessions: 1" in capsys.readouterr().out
    assert main(["prune", "--store", url]) == 0
    assert "removed 1 expired session(s)" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--store", "nosuch://x"]) == 2
    assert "unknown session store scheme" in capsys.readouterr().err
    assert main(["stats", "--store", "memory://"]) == 2
    assert "inside the server's own process" in capsys.readouterr().err
    assert main(["schema", "--store", "redis://127.0.0.1:6379/0"]) == 2
    assert "need no schema" in capsys.readouterr().err


def test_sqlite_schema_is_what_the_store_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--store", f"sqlite:///{tmp_path}/s.db?table=sess"]) == 0
    ddl = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS sess" in ddl and "CREATE INDEX IF NOT EXISTS sess_expires" in ddl
    store = SQLiteStore(f"{tmp_path}/s.db", table="sess")
    store.save("k", b"x", 60)  # the store runs the same DDL, twice over without harm
    store.close()
