"""open_store: URLs, the scheme registry, entry points and missing drivers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wsgisession import MemoryStore, SQLiteStore, open_store, register_store
from wsgisession.store import SessionStore


def test_memory_and_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = open_store("memory://?max_entries=5&prefix=app:")
    assert isinstance(memory, MemoryStore) and memory.max_entries == 5 and memory.prefix == "app:"
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel.db?table=sess&busy_timeout=2")
    assert isinstance(relative, SQLiteStore) and relative.path == "rel.db" and relative.table == "sess"
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SQLiteStore) and absolute.path == f"{tmp_path}/abs.db"


def test_bad_urls_say_what_to_change() -> None:
    with pytest.raises(ValueError, match="no scheme"):
        open_store("sessions.db")
    with pytest.raises(ValueError, match="table name"):
        open_store("sqlite:///x.db?table=drop;table")
    with pytest.raises(ValueError, match="busy_timeout"):
        open_store("sqlite:///x.db?busy_timeout=soon")
    for bad in ("nan", "inf", "0"):
        with pytest.raises(ValueError, match="more than 0 seconds"):
            open_store(f"sqlite:///x.db?busy_timeout={bad}")


def test_passwords_never_reach_error_messages() -> None:
    with pytest.raises(ValueError) as raised:
        open_store("redis://app:p%40ss@127.0.0.1:6379/0?bogus=1")
    assert "p%40ss" not in str(raised.value) and "app:***@" in str(raised.value)


def test_register_store() -> None:
    made: list[str] = []

    def factory(url: str) -> SessionStore:
        made.append(url)
        return MemoryStore()

    register_store("custom", factory)
    assert isinstance(open_store("custom://anything"), MemoryStore)
    assert made == ["custom://anything"]


def test_entry_point_store(tmp_path: Path) -> None:
    # A real installed distribution, as pip would leave it, declaring a scheme.
    (tmp_path / "acme_store.py").write_text(
        "from wsgisession import MemoryStore\n"
        "class AcmeStore(MemoryStore):\n"
        "    @classmethod\n"
        "    def from_url(cls, url):\n"
        "        return cls(prefix=url)\n"
    )
    info = tmp_path / "acme_store-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-store\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wsgisession.stores]\nacme = acme_store:AcmeStore.from_url\n")
    code = "from wsgisession import open_store; s = open_store('acme://x'); print(type(s).__name__, s.prefix)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, env=_env(tmp_path)
    )
    assert out.stdout.split() == ["AcmeStore", "acme://x"]


@pytest.mark.parametrize(
    ("url", "driver", "extra"),
    [
        ("memcached://127.0.0.1:11211", "pymemcache", "memcached"),
        ("postgresql://postgres@127.0.0.1/test", "psycopg", "postgres"),
        ("redis://127.0.0.1:6379/0", "redis", "redis"),
    ],
)
def test_missing_driver_names_the_extra(url: str, driver: str, extra: str) -> None:
    # sys.modules[name] = None makes importing the driver fail as if it were not installed.
    code = (
        f"import sys; sys.modules[{driver!r}] = None\n"
        "from wsgisession import open_store\n"
        f"try:\n    open_store({url!r})\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f'need {driver}: pip install ".[{extra}]"' in out.stdout


def _env(path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(path)}
