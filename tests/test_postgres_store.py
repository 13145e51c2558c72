"""PostgresStore against real PostgreSQL: the shared server for the contract and the
table's behaviour, a private cluster for the server-restart test."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from postgres_servers import ClusterUnavailable, PostgresCluster, free_port
from psycopg_pool import ConnectionPool
from wsgisession_postgres import PostgresStore

from wsgisession.store import Clearable, Countable, Prunable, StoreError, StoreUnavailable, VersionConflict, open_store
from wsgisession.testing import (
    CountClearContract,
    PruneContract,
    RoundTripContract,
    StoreContract,
    StoreFactory,
    require_server,
)

SHARED_URL = os.environ.get("WSGISESSION_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def admin() -> Iterator[psycopg.Connection]:
    """A superuser connection to the shared server, for setting up and inspecting tables."""
    try:
        conn = psycopg.connect(SHARED_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        require_server(f"PostgreSQL at {SHARED_URL}", str(exc))
    with conn:
        yield conn


@pytest.fixture
def table(admin: psycopg.Connection) -> Iterator[str]:
    """A table name no other test uses, dropped afterwards."""
    name = f"ws_{uuid.uuid4().hex[:12]}"
    yield name
    admin.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def make_store(table: str) -> Iterator[Callable[..., PostgresStore]]:
    """Builds stores on this test's table (keywords override), all closed afterwards."""
    stores: list[PostgresStore] = []

    def make(**options: object) -> PostgresStore:
        store = PostgresStore(SHARED_URL, **{"table": table, "timeout": 5.0, **options})  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def _rows(admin: psycopg.Connection, table: str) -> int:
    row = admin.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


class TestPostgresStore(StoreContract, PruneContract, CountClearContract):
    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PostgresStore]) -> StoreFactory:
        return lambda prefix: make_store(prefix=prefix)


class TestPostgresStoreWithoutPreparedStatements(StoreContract, PruneContract, CountClearContract):
    """The PgBouncer transaction-mode setting passes the same contract."""

    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PostgresStore]) -> StoreFactory:
        return lambda prefix: make_store(prefix=prefix, prepare=False)


class TestPostgresRoundTrips(RoundTripContract):
    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PostgresStore]) -> StoreFactory:
        return lambda prefix: make_store(prefix=prefix)


def test_capabilities_and_url(table: str) -> None:
    store = open_store(
        f"postgres://postgres@127.0.0.1:1/test?table={table}&min_size=0&max_size=3&prepare=false"
        "&statement_timeout=0&timeout=0.5&prune_interval=300&sslmode=disable"
    )
    assert isinstance(store, PostgresStore)
    assert isinstance(store, Prunable) and isinstance(store, Countable) and isinstance(store, Clearable)
    assert (store.min_size, store.max_size, store.prepare, store.server) == (0, 3, False, "127.0.0.1:1")
    assert (store.statement_timeout, store.timeout) == (None, 0.5)
    assert not _pruner_threads(store)  # nothing starts before the first request
    store.close()  # never connected: nothing to close, nothing raised


SOCKET_DIR = os.environ.get("WSGISESSION_POSTGRES_SOCKET_DIR", "/var/run/postgresql")


def test_unix_socket_url(table: str) -> None:
    if not os.path.exists(os.path.join(SOCKET_DIR, ".s.PGSQL.5432")):
        require_server(f"PostgreSQL's Unix socket in {SOCKET_DIR}", "no .s.PGSQL.5432 there")
    store = open_store(f"postgresql://postgres@/test?host={SOCKET_DIR}&table={table}")
    assert isinstance(store, PostgresStore) and SOCKET_DIR in store.server
    store.save("k", b"over the socket", 60)
    record = store.load("k")
    assert record is not None and record.data == b"over the socket"
    store.close()
    with pytest.raises(ValueError, match="names its server twice"):
        open_store(f"postgresql://127.0.0.1/test?host={SOCKET_DIR}")
    with pytest.raises(ValueError, match="must be a number"):
        open_store(f"postgresql:///test?host={SOCKET_DIR}&port=abc")


@pytest.mark.parametrize(
    "query",
    ["table=Sessions", "table=a-b", "table=1abc", 'table=x";drop', "schema=no.dots", "max_size=0", "colour=blue"],
)
def test_bad_configuration_fails_at_construction(query: str) -> None:
    with pytest.raises(ValueError):
        PostgresStore.from_url(f"postgresql://127.0.0.1:1/test?{query}")


def test_expired_rows_are_invisible_before_pruning(
    admin: psycopg.Connection, table: str, make_store: Callable[..., PostgresStore]
) -> None:
    store = make_store()
    version = store.save("old", b"data", 3600)
    store.save("live", b"data", 3600)
    admin.execute(f"UPDATE {table} SET expires = now() - interval '1 second' WHERE key = 'old'")
    assert store.load("old") is None
    assert store.touch("old", 60) is False
    with pytest.raises(VersionConflict):
        store.save("old", b"late", 60, version=version)
    assert store.count() == 1
    assert _rows(admin, table) == 2  # still stored, yet invisible
    assert store.prune() == 1
    assert _rows(admin, table) == 1


def test_expiry_follows_the_database_clock(admin: psycopg.Connection, make_store: Callable[..., PostgresStore]) -> None:
    store = make_store()
    store.save("k", b"x", 100)
    record = store.load("k")
    row = admin.execute("SELECT extract(epoch FROM now())::float8").fetchone()
    assert record is not None and row is not None
    assert abs(record.expires_at - (row[0] + 100)) < 5


def test_prune_100k_in_batches_while_sessions_load(
    admin: psycopg.Connection, table: str, make_store: Callable[..., PostgresStore]
) -> None:
    store = make_store(prune_batch=5000)
    live = {f"live{i}": store.save(f"live{i}", b"live", 3600) for i in range(20)}
    admin.execute(
        f"INSERT INTO {table} (key, data, version, created, expires) "
        "SELECT 'dead' || g, '\\x00', g, now() - interval '2 hours', now() - interval '1 hour' "
        "FROM generate_series(1, 100000) AS g"
    )
    done = threading.Event()
    latencies: list[float] = []
    failures: list[BaseException] = []

    def keep_loading() -> None:
        try:
            while not done.is_set():
                for key in live:
                    started = time.perf_counter()
                    record = store.load(key)
                    assert record is not None and record.data == b"live"
                    live[key] = store.save(key, b"live", 3600, version=record.version)
                    latencies.append(time.perf_counter() - started)
        except BaseException as exc:
            failures.append(exc)

    loader = threading.Thread(target=keep_loading)
    loader.start()
    progress: list[int] = []
    try:
        removed = store.prune(progress.append)
    finally:
        done.set()
        loader.join()
    assert not failures, failures
    assert removed == 100_000
    assert progress[:20] == [5000 * n for n in range(1, 21)]  # one short transaction per batch
    assert store.count() == 20 and _rows(admin, table) == 20
    assert latencies and max(latencies) < 1.0


def test_background_pruner_runs_after_first_use_and_stops_on_close(
    admin: psycopg.Connection, table: str, make_store: Callable[..., PostgresStore]
) -> None:
    store = make_store(prune_interval=0.2)
    assert not _pruner_threads(store)  # lazy: nothing runs before the store is used
    store.save("live", b"x", 3600)
    admin.execute(
        f"INSERT INTO {table} (key, data, version, expires) "
        "SELECT 'dead' || g, '', g, now() - interval '1 minute' FROM generate_series(1, 50) AS g"
    )
    deadline = time.monotonic() + 10
    while _rows(admin, table) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _rows(admin, table) == 1
    store.close()
    assert not _pruner_threads(store)


def _pruner_threads(store: PostgresStore) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"prune {store}" and t.is_alive()]


def test_table_in_its_own_schema(admin: psycopg.Connection) -> None:
    schema = f"ws_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = PostgresStore(SHARED_URL, schema=schema, table="sessions")
        store.save("k", b"v", 60)
        assert _rows(admin, f"{schema}.sessions") == 1
        store.close()
        missing = PostgresStore(SHARED_URL, schema=schema + "_missing")
        with pytest.raises(StoreError, match=r"schema .* does not exist"):
            missing.load("k")
        missing.close()
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_schema_sql_creates_the_table_when_create_table_is_off(
    admin: psycopg.Connection, table: str, make_store: Callable[..., PostgresStore]
) -> None:
    store = make_store(create_table=False)
    with pytest.raises(StoreError, match=f"{table} does not exist.*wsgisession schema"):
        store.load("k")
    admin.execute(store.schema_sql().encode())
    admin.execute(store.schema_sql().encode())  # idempotent
    store.save("k", b"v", 60)
    assert store.load("k") is not None
    row = admin.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table]).fetchone()
    assert row == (2,)  # primary key and expiry


@pytest.fixture
def weak_role(admin: psycopg.Connection) -> Iterator[str]:
    """A login role with no privileges, dropped afterwards."""
    role = f"ws_weak_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    admin.execute(f"DROP OWNED BY {role}")
    admin.execute(f"DROP ROLE {role}")


def test_missing_permissions_name_the_privilege_and_table(
    admin: psycopg.Connection, table: str, weak_role: str
) -> None:
    url = SHARED_URL.replace("postgres@", f"{weak_role}@")
    store = PostgresStore.from_url(f"{url}?table={table}")
    try:
        with pytest.raises(StoreError, match="needs CREATE on schema"):
            store.load("k")  # no table, and no right to create one
        admin.execute(store.schema_sql().encode())
        with pytest.raises(StoreError, match=f"needs SELECT on {table}"):
            store.load("k")
        admin.execute(f"GRANT SELECT ON {table} TO {weak_role}")
        assert store.load("k") is None
        with pytest.raises(StoreError, match=f"needs INSERT, SELECT and UPDATE on {table}"):
            store.save("k", b"v", 60)
    finally:
        store.close()


def test_application_pool_and_prepared_statements(table: str) -> None:
    for prepare in (True, False):
        with ConnectionPool(SHARED_URL, min_size=1, max_size=1, kwargs={"autocommit": True}, open=True) as pool:
            store = PostgresStore(pool=pool, table=table, prepare=prepare)
            for n in range(3):
                version = store.save(f"k{n}{prepare}", b"v", 60)
                store.save(f"k{n}{prepare}", b"w", 60, version=version)
                store.load(f"k{n}{prepare}")
            store.close()  # the application's pool stays open
            with pool.connection() as conn:
                row = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
            assert row is not None
            assert (row[0] > 0) is prepare


def test_unreachable_server_is_unavailable_within_the_timeout() -> None:
    port = free_port()
    store = PostgresStore.from_url(f"postgresql://postgres@127.0.0.1:{port}/test?timeout=0.5")
    try:
        for call in (lambda: store.load("k"), lambda: store.save("k", b"v", 60)):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert time.monotonic() - started < 2.0
            assert caught.value.server == f"127.0.0.1:{port}"
            assert "refused" in str(caught.value)
    finally:
        store.close()


def test_statement_blocked_by_a_lock_is_unavailable_within_statement_timeout(
    table: str, make_store: Callable[..., PostgresStore]
) -> None:
    store = make_store(statement_timeout=0.5)
    version = store.save("k", b"v", 60)
    with psycopg.connect(SHARED_URL) as locker:
        locker.execute(f"SELECT 1 FROM {table} WHERE key = 'k' FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="statement_timeout"):
            store.save("k", b"w", 60, version=version)
        assert time.monotonic() - started < 2.0
    assert store.save("k", b"w", 60, version=version)


def _use_in_child(store: PostgresStore, key: str, version: int) -> None:
    record = store.load(key)
    assert record is not None
    store.save(key, b"from child", 60, version=version)
    store.close()


def test_safe_after_fork(make_store: Callable[..., PostgresStore]) -> None:
    store = make_store()
    version = store.save("k", b"from parent", 60)
    assert store.load("k") is not None  # the parent's pool is open and in use
    child = multiprocessing.get_context("fork").Process(target=_use_in_child, args=(store, "k", version))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    record = store.load("k")  # the parent's connections survived the child
    assert record is not None and record.data == b"from child"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL server that tests may stop and start."""
    try:
        server = PostgresCluster()
    except ClusterUnavailable as exc:
        require_server("a private PostgreSQL cluster", str(exc))
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def test_server_restart_mid_traffic(cluster: PostgresCluster) -> None:
    store = PostgresStore.from_url(f"{cluster.url}?timeout=1&min_size=2&max_size=4")
    try:
        versions = {f"k{i}": store.save(f"k{i}", f"v{i}".encode(), 3600) for i in range(20)}
        cluster.stop()
        for call in (lambda: store.load("k0"), lambda: store.save("new", b"x", 60), lambda: store.touch("k1", 60)):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert time.monotonic() - started < 2.5
            assert caught.value.server == f"127.0.0.1:{cluster.port}"
        cluster.start()
        recovered = _first_success(lambda: store.load("k0"), within=10.0)
        assert recovered < 5.0, f"the pool took {recovered:.1f}s to recover"
        for key, version in versions.items():
            record = store.load(key)
            assert record is not None and record.version == version and record.data == f"v{key[1:]}".encode()
            store.save(key, b"after", 3600, version=version)
        store.save("new", b"x", 60)
        assert store.count() == 21
    finally:
        store.close()


def _first_success(call: Callable[[], object], within: float) -> float:
    started = time.monotonic()
    while True:
        try:
            call()
        except StoreUnavailable:
            if time.monotonic() - started > within:
                raise
            time.sleep(0.1)
        else:
            return time.monotonic() - started


def test_cli_schema_prune_and_stats(admin: psycopg.Connection, table: str, capsys: pytest.CaptureFixture[str]) -> None:
    from wsgisession.cli import main

    url = f"{SHARED_URL}?table={table}"
    assert main(["schema", "--store", url]) == 0
    assert f'CREATE TABLE IF NOT EXISTS "{table}"' in capsys.readouterr().out
    store = PostgresStore.from_url(url)
    store.save("live", b"x", 60)
    store.close()
    admin.execute(
        f"INSERT INTO {table} (key, data, version, expires) "
        "SELECT 'dead' || g, 'x', g, now() - interval '1 hour' FROM generate_series(1, 12000) AS g"
    )
    assert main(["prune", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "removed 5000 so far..." in out and "removed 12000 expired session(s)" in out
    assert main(["stats", "--store", url]) == 0
    assert "live sessions: 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://postgres@127.0.0.1:5432/no_such_database_here", 'database "no_such_database_here"'),
        ("postgresql://no_such_role_here@127.0.0.1:5432/test", 'role "no_such_role_here"'),
        ("postgresql://postgres@127.0.0.1:5432/test?sslmode=bogus", "invalid sslmode value"),
    ],
)
def test_wrong_settings_fail_at_once_saying_what_to_change(admin: psycopg.Connection, url: str, named: str) -> None:
    store = PostgresStore.from_url(url)
    try:
        for _ in range(2):  # every request says so, not only the first
            started = time.monotonic()
            with pytest.raises(StoreError, match="check the user, password, database name and options") as caught:
                store.load("k")
            assert time.monotonic() - started < 1.0
            assert not isinstance(caught.value, StoreUnavailable)
            assert named in str(caught.value)
    finally:
        store.close()


def test_a_role_that_may_not_log_in_is_a_settings_error(admin: psycopg.Connection) -> None:
    role = f"ws_nologin_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE ROLE {role} NOLOGIN")
    store = PostgresStore.from_url(f"postgresql://{role}@127.0.0.1:5432/test")
    try:
        with pytest.raises(StoreError, match="not permitted to log in") as caught:
            store.load("k")
        assert not isinstance(caught.value, StoreUnavailable)
    finally:
        store.close()
        admin.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("database", ["test", "no_such_database_here"])
def test_threads_arriving_together_share_one_check(
    admin: psycopg.Connection, table: str, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first requests of a process, in 16 threads at once, make one checking
    connection between them, not one each, whether it succeeds or fails."""
    checks: list[str] = []
    real_connect = psycopg.connect

    def counting_connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        checks.append("connect")
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting_connect)
    store = PostgresStore.from_url(f"postgresql://postgres@127.0.0.1:5432/{database}?table={table}")
    barrier = threading.Barrier(16)
    outcomes: list[str] = []

    def first_request() -> None:
        barrier.wait()
        try:
            store.load("k")
            outcomes.append("ok")
        except StoreError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=first_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    store.close()
    assert checks == ["connect"]
    assert set(outcomes) == ({"ok"} if database == "test" else {"StoreError"}) and len(outcomes) == 16
