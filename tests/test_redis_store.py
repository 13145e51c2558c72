"""RedisStore against real Redis: the shared server, servers and a cluster of its own.

The shared server (``WSGISESSION_REDIS_URL``, default ``redis://127.0.0.1:6379/0``) is
only ever touched under this file's own key prefixes. Everything that stops or restarts
a server does it to a redis-server these tests started on a free loopback port.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis_servers import (
    HOST,
    LocalRedis,
    LocalRedisCluster,
    TLSFiles,
    free_port,
    make_tls_files,
    redis_binaries_missing,
)
from wsgisession_redis import RedisStore
from wsgisession_redis._record import pack

from wsgisession.store import StoreError, StoreUnavailable, VersionConflict, open_store
from wsgisession.testing import CountClearContract, RoundTripContract, StoreContract, StoreFactory, require_server

SHARED_URL = os.environ.get("WSGISESSION_REDIS_URL", "redis://127.0.0.1:6379/0")


def _key() -> str:
    return uuid.uuid4().hex * 2  # 64 hex characters, like the middleware's keys


def _store(url: str, prefix: str, **options: object) -> RedisStore:
    query = "&".join(f"{name}={value}" for name, value in {"prefix": prefix, **options}.items())
    return RedisStore.from_url(f"{url}{'&' if '?' in url else '?'}{query}")


def _cleaning_factory(url: str) -> Iterator[StoreFactory]:
    """A store factory whose records are all deleted after the test."""
    made: list[RedisStore] = []

    def make(prefix: str) -> RedisStore:
        made.append(_store(url, prefix))
        return made[-1]

    yield make
    for store in made:
        store.clear()
        store.close()


@pytest.fixture(scope="module")
def shared_url() -> str:
    """The shared server's URL; the test is skipped (or fails in CI) if it is down."""
    try:
        redis.Redis.from_url(SHARED_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        require_server(f"Redis at {SHARED_URL}", str(exc))
    return SHARED_URL


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A standalone redis-server of this module's own, on a free port."""
    missing = redis_binaries_missing()
    if missing:
        require_server("redis-server", missing)
    server = LocalRedis(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRedisCluster]:
    """A three-master Redis Cluster of this module's own."""
    missing = redis_binaries_missing()
    if missing:
        require_server("Redis Cluster", missing)
    local = LocalRedisCluster()
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRedis, TLSFiles]]:
    """A redis-server of this module's own that speaks only TLS, with a throwaway CA."""
    missing = redis_binaries_missing()
    if missing:
        require_server("redis-server", missing)
    directory = Path(tmp_path_factory.mktemp("redis-tls"))
    try:
        files = make_tls_files(directory)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        require_server("TLS certificates for a Redis test server", str(exc))
    server = LocalRedis(directory, tls=files)
    server.start()
    yield server, files
    server.stop()


class TestRedisStore(StoreContract, CountClearContract):
    """The contract on the shared server."""

    @pytest.fixture
    def store_factory(self, shared_url: str) -> Iterator[StoreFactory]:
        yield from _cleaning_factory(shared_url)


class TestRedisClusterStore(StoreContract, CountClearContract):
    """The contract on a three-master cluster."""

    @pytest.fixture
    def store_factory(self, cluster: LocalRedisCluster) -> Iterator[StoreFactory]:
        yield from _cleaning_factory(cluster.url)


class TestRedisTLSStore(StoreContract, CountClearContract):
    """The contract over ``rediss://``, verifying the server against its CA."""

    @pytest.fixture
    def store_factory(self, tls_redis: tuple[LocalRedis, TLSFiles]) -> Iterator[StoreFactory]:
        server, files = tls_redis
        yield from _cleaning_factory(f"rediss://{server.address}/0?ssl_ca_certs={files.ca}")


def test_tls_server_not_trusted_is_unavailable_saying_why(tls_redis: tuple[LocalRedis, TLSFiles]) -> None:
    server, _ = tls_redis
    store = RedisStore.from_url(f"rediss://{server.address}/0")  # the system's CAs do not know this one
    with pytest.raises(StoreUnavailable, match="certificate verify failed") as caught:
        store.load(_key())
    assert caught.value.server == server.address
    plain = RedisStore.from_url(f"redis://{server.address}/0?timeout=1")  # TLS port, plain client
    with pytest.raises(StoreUnavailable):
        plain.load(_key())
    store.close()
    plain.close()


class TestRedisRoundTrips(RoundTripContract):
    """DESIGN.md's round trips per request, through the middleware, on the shared server."""

    @pytest.fixture
    def store_factory(self, shared_url: str) -> Iterator[StoreFactory]:
        yield from _cleaning_factory(shared_url)


@pytest.fixture
def prefix() -> str:
    return f"redis-test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def shared_store(shared_url: str, prefix: str) -> Iterator[RedisStore]:
    store = _store(shared_url, prefix)
    yield store
    store.clear()
    store.close()


# --- one key, one round trip per call, the header kept consistent -------------------


def test_each_call_is_one_command_and_no_transactions(own_redis: LocalRedis, prefix: str) -> None:
    store = _store(f"redis://{own_redis.address}/0", prefix)
    warm = _key()  # the first connection's handshake and the scripts' first EVAL
    version = store.save(warm, b"x", 60)
    store.touch(warm, 60)
    store.save(warm, b"y", 60, version)
    own_redis.cli("config", "resetstat")
    key = _key()
    version = store.save(key, b"data", 60)
    assert store.load(key) is not None
    store.save(key, b"more", 60, version)
    assert store.touch(key, 120)
    store.delete(key)
    calls = _command_calls(own_redis)
    # Sent by the client: SET NX, GET, EVALSHA (save), EVALSHA (touch), UNLINK. The rest
    # ran inside the scripts; nothing was EVAL'd again, watched or queued in MULTI.
    assert calls == {"set": 2, "get": 1, "evalsha": 2, "getrange": 2, "setrange": 1, "pexpire": 1, "unlink": 1}
    store.close()


def _command_calls(server: LocalRedis) -> dict[str, int]:
    calls = {}
    for line in server.cli("info", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line[len("cmdstat_") :].partition(":")
            calls[name] = int(stats.split(",")[0].split("=")[1])
    for admin in ("info", "config|resetstat"):
        calls.pop(admin, None)
    return calls


def test_touch_moves_the_servers_expiry_and_the_headers_together(shared_store: RedisStore, shared_url: str) -> None:
    key = _key()
    store = shared_store
    store.save(key, b"payload", 10)
    assert store.touch(key, 5000)
    record = store.load(key)
    assert record is not None and record.data == b"payload"
    pttl = redis.Redis.from_url(shared_url).pttl(store.prefix + key)
    assert 4_990_000 < pttl <= 5_000_000
    assert abs(record.expires_at - (time.time() + 5000)) < 5


def test_store_enforces_expiry_the_server_has_not_applied(shared_store: RedisStore, shared_url: str) -> None:
    # A record whose own expiry has passed while Redis still keeps the key (clock skew
    # between machines, say) is gone for every call.
    key = _key()
    raw = redis.Redis.from_url(shared_url)
    raw.set(shared_store.prefix + key, pack(42, time.time() - 1, b"stale"), ex=60)
    assert shared_store.load(key) is None
    assert shared_store.touch(key, 60) is False
    with pytest.raises(VersionConflict):
        shared_store.save(key, b"x", 60, version=42)


def test_foreign_value_under_the_prefix_is_a_store_error(shared_store: RedisStore, shared_url: str) -> None:
    key = _key()
    redis.Redis.from_url(shared_url).set(shared_store.prefix + key, b"not a session", ex=60)
    with pytest.raises(StoreError, match="not a wsgisession record"):
        shared_store.load(key)


def test_glob_characters_in_the_prefix_match_only_themselves(shared_url: str, prefix: str) -> None:
    starred, plain = _store(shared_url, prefix + "a*"), _store(shared_url, prefix + "ab")
    try:
        starred.save(_key(), b"x", 60)
        plain.save(_key(), b"y", 60)
        assert starred.count() == 1  # an unescaped "a**" pattern would count both
        starred.clear()
        assert plain.count() == 1
    finally:
        plain.clear()
        for store in (starred, plain):
            store.close()


def test_unix_socket(own_redis: LocalRedis, prefix: str) -> None:
    store = open_store(f"unix://{own_redis.unix_socket}?db=1&prefix={prefix}")
    assert isinstance(store, RedisStore)
    key = _key()
    version = store.save(key, b"over a socket", 60)
    record = store.load(key)
    assert record is not None and record.version == version
    assert store.count() == 1
    store.clear()
    store.close()


def test_works_after_fork(shared_store: RedisStore) -> None:
    key = _key()
    shared_store.save(key, b"parent", 60)
    child = multiprocessing.get_context("fork").Process(target=_use_in_child, args=(shared_store, key))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    record = shared_store.load(key)
    assert record is not None and record.data == b"child"


def _use_in_child(store: RedisStore, key: str) -> None:
    record = store.load(key)
    assert record is not None
    store.save(key, b"child", 60, record.version)
    # The child made its own client rather than using the parent's sockets.
    assert store._connection is not None and store._connection.pid == os.getpid()


# --- a cluster spreads sessions and outlives a node's restart ------------------------


def test_sessions_spread_over_all_masters(cluster: LocalRedisCluster, prefix: str) -> None:
    store = _store(cluster.url, prefix)
    keys = [_key() for _ in range(100)]
    for key in keys:
        store.save(key, b"x", 60)
    per_node = {node.port: _keys_on(node, prefix) for node in cluster.nodes}
    assert all(count > 0 for count in per_node.values()), per_node
    assert sum(per_node.values()) == store.count() == 100
    store.clear()
    assert all(_keys_on(node, prefix) == 0 for node in cluster.nodes)
    store.close()


def _keys_on(node: LocalRedis, prefix: str) -> int:
    return len(node.cli("--scan", "--pattern", prefix + "*").split())


def test_session_survives_restart_of_another_node(cluster: LocalRedisCluster, prefix: str) -> None:
    store = _store(cluster.url, prefix)
    keys = [_key() for _ in range(30)]
    versions = {key: store.save(key, b"kept", 3600) for key in keys}
    home = {key: cluster.node_of(prefix + key) for key in keys}
    restarted = cluster.nodes[0]
    survivors = [key for key in keys if home[key] is not restarted]
    lost = [key for key in keys if home[key] is restarted]
    assert survivors and lost
    restarted.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=restarted.address):
            store.load(lost[0])
        assert time.monotonic() - started < 1.0
        for key in survivors:  # served by the other masters while the node is down
            versions[key] = store.save(key, b"changed", 3600, versions[key])
    finally:
        restarted.start()
    cluster.wait_until_ok()
    for key in survivors:
        record = store.load(key)
        assert record is not None and record.data == b"changed" and record.version == versions[key]
    # The restarted node kept its slots but not its data (no persistence), and the same
    # store object reconnects to it.
    assert store.load(lost[0]) is None
    store.save(lost[0], b"again", 60)
    assert store.load(lost[0]) is not None
    store.clear()
    store.close()


def test_slot_move_is_followed(cluster: LocalRedisCluster, prefix: str) -> None:
    store = _store(cluster.url, prefix)
    key = _key()
    version = store.save(key, b"moving", 60)
    source = cluster.node_of(prefix + key)
    target = next(node for node in cluster.nodes if node is not source)
    cluster.move_slot(prefix + key, target)
    assert cluster.node_of(prefix + key) is target
    # The client's slot map is now stale: each call is redirected (MOVED), and the
    # target, which may never have run the scripts, gets them through EVAL.
    record = store.load(key)
    assert record is not None and record.data == b"moving"
    assert store.save(key, b"moved", 60, version) != version
    assert store.touch(key, 60)
    store.delete(key)
    store.close()


def test_silent_cluster_node_is_unavailable_within_the_timeout(cluster: LocalRedisCluster, prefix: str) -> None:
    store = _store(cluster.url, prefix, timeout=0.6)
    keys = [_key() for _ in range(30)]
    for key in keys:
        store.save(key, b"x", 60)
    frozen = cluster.nodes[1]
    on_frozen = next(key for key in keys if cluster.node_of(prefix + key) is frozen)
    elsewhere = next(key for key in keys if cluster.node_of(prefix + key) is not frozen)
    frozen.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.load(on_frozen)
        assert time.monotonic() - started < 0.6 + 0.5
        assert store.load(elsewhere) is not None
    finally:
        frozen.resume()
    assert store.load(on_frozen) is not None
    store.clear()
    store.close()


# --- failures ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_unreachable_server_is_unavailable_quickly(scheme: str) -> None:
    port = free_port()
    store = RedisStore.from_url(f"{scheme}://{HOST}:{port}?timeout=1")
    for call in _every_call(store):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert time.monotonic() - started < 1.0
        assert caught.value.server == f"{HOST}:{port}"


def test_silent_server_is_unavailable_within_the_timeout() -> None:
    # A socket that accepts connections (the kernel's backlog does) but never answers.
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        store = RedisStore.from_url(f"redis://{HOST}:{port}?timeout=0.5")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"{HOST}:{port}"):
            store.load(_key())
        assert time.monotonic() - started < 0.5 + 0.5


def _every_call(store: RedisStore) -> list[Callable[[], object]]:
    key = _key()
    return [
        lambda: store.load(key),
        lambda: store.save(key, b"x", 60),
        lambda: store.save(key, b"x", 60, version=1),
        lambda: store.touch(key, 60),
        lambda: store.delete(key),
        store.count,
        store.clear,
    ]


def test_restarted_server_is_used_again(tmp_path: Path, prefix: str) -> None:
    missing = redis_binaries_missing()
    if missing:
        require_server("redis-server", missing)
    server = LocalRedis(tmp_path)
    server.start()
    try:
        store = _store(f"redis://{server.address}/0", prefix, timeout=1)
        key = _key()
        version = store.save(key, b"before", 60)
        server.stop()
        with pytest.raises(StoreUnavailable, match=server.address):
            store.load(key)
        server.start()
        # The pooled connections died with the server; the same store reconnects, and
        # finds the data gone (this server keeps none) and the scripts unknown.
        assert store.load(key) is None
        with pytest.raises(VersionConflict):
            store.save(key, b"ghost", 60, version)
        version = store.save(key, b"after", 60)
        assert store.touch(key, 60)
        assert store.save(key, b"again", 60, version) != version
        store.close()
    finally:
        server.stop()


# --- URLs --------------------------------------------------------------------------


def test_url_options() -> None:
    store = RedisStore.from_url("redis://:s3cret@127.0.0.1:6390/3?prefix=app1:&timeout=0.5&max_connections=7")
    assert (store.server, store.prefix) == ("127.0.0.1:6390", "app1:")
    assert RedisStore.from_url("redis://").server == "127.0.0.1:6379"
    assert RedisStore.from_url("redis://").prefix == "wsgisession:"
    assert RedisStore.from_url("redis+cluster://h1:7000,h2:7001").server == "h1:7000,h2:7001"
    assert RedisStore.from_url("unix:///run/redis.sock?db=2").server == "unix:/run/redis.sock"
    # Empty braces are no hash tag: Redis hashes the whole key.
    assert RedisStore.from_url("redis+cluster://h1:7000?prefix=a{}:").prefix == "a{}:"


def test_ttl_must_be_positive() -> None:
    store = RedisStore.from_url(f"redis://{HOST}:{free_port()}")
    with pytest.raises(ValueError, match="positive"):
        store.save(_key(), b"x", 0)
    with pytest.raises(ValueError, match="positive"):
        store.touch(_key(), -1)


def test_opening_never_connects() -> None:
    # Nothing listens on these ports: building the stores must not notice.
    port = free_port()
    for url in (f"redis://{HOST}:{port}", f"redis+cluster://{HOST}:{port}", f"rediss://{HOST}:{port}"):
        assert isinstance(open_store(url), RedisStore)


def test_rediss_uses_tls() -> None:
    store = RedisStore.from_url("rediss://127.0.0.1:6380?ssl_cert_reqs=none&ssl_ca_certs=/etc/ca.pem")
    pool = store._connected().client.connection_pool  # type: ignore[attr-defined]
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    store.close()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://127.0.0.1:6379?prefx=a:", "unknown option"),
        ("redis://127.0.0.1:6379/zero", "bad database"),
        ("redis://h1:6379,h2:6379", "redis\\+cluster://"),
        ("redis+cluster://h1:7000/2", "only database 0"),
        ("redis+cluster://h1:7000?prefix={app}:", "hash tag"),
        ("redis://127.0.0.1:6379?timeout=0", "more than 0"),
        ("unix://", "unix:///path"),
    ],
)
def test_bad_urls_are_refused(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        RedisStore.from_url(url)
