"""MemcachedStore against real memcached processes started on free loopback ports."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from memcached_servers import MemcachedServer, find_memcached, memcached_servers
from pymemcache.client.base import Client  # type: ignore[import-untyped]
from pymemcache.client.hash import HashClient  # type: ignore[import-untyped]
from wsgisession_memcached import MemcachedStore

from wsgisession.store import StoreError, StoreUnavailable, VersionConflict, open_store
from wsgisession.testing import RoundTripContract, StoreContract, StoreFactory, require_server

DAY = 86_400


@pytest.fixture(scope="module")
def memcached_binary() -> str:
    binary = find_memcached()
    if binary is None:
        from wsgisession.testing import require_server

        require_server("memcached", "no memcached binary on PATH (apt-get install memcached)")
    assert binary is not None
    return binary


@pytest.fixture(scope="module")
def trio(memcached_binary: str) -> Iterator[list[MemcachedServer]]:
    """Three servers shared by the tests that never stop one."""
    with memcached_servers(memcached_binary, 3) as servers:
        yield servers


@pytest.fixture
def fresh_trio(memcached_binary: str) -> Iterator[list[MemcachedServer]]:
    """Three servers of this test's own, for tests that kill one."""
    with memcached_servers(memcached_binary, 3) as servers:
        yield servers


def _key() -> str:
    return uuid.uuid4().hex * 2  # 64 characters, like the middleware's hashed keys


def _raw(server: MemcachedServer) -> Client:
    return Client(("127.0.0.1", server.port), default_noreply=False, timeout=2)


def _ttl_on_server(server: MemcachedServer, key: str) -> int:
    reply = _raw(server).raw_command(f"mg {key} t")
    assert reply.startswith(b"HD t"), reply
    return int(reply[4:])


def _owner(servers: list[MemcachedServer], key: str) -> MemcachedServer:
    [owner] = [s for s in servers if _raw(s).get(key) is not None]
    return owner


class TestOneServer(StoreContract):
    @pytest.fixture
    def store_factory(self, trio: list[MemcachedServer]) -> StoreFactory:
        return lambda prefix: MemcachedStore(trio[0].address, prefix=prefix)


class TestThreeServers(StoreContract):
    @pytest.fixture
    def store_factory(self, trio: list[MemcachedServer]) -> StoreFactory:
        return lambda prefix: MemcachedStore([s.address for s in trio], prefix=prefix)


# URLs and configuration


def test_url_options() -> None:
    store = open_store(
        "memcached://127.0.0.1:1,[::1]:2,localhost?prefix=app1:&connect_timeout=0.5&timeout=2"
        "&max_pool_size=8&dead=forget&dead_timeout=3"
    )
    assert isinstance(store, MemcachedStore)
    assert store.servers == [("127.0.0.1", 1), ("::1", 2), ("localhost", 11211)]
    assert store.prefix == "app1:"
    assert (store.options.connect_timeout, store.options.timeout) == (0.5, 2.0)
    assert store.options.max_pool_size == 8
    assert (store.options.dead, store.options.dead_timeout) == ("forget", 3.0)


def test_url_defaults() -> None:
    store = MemcachedStore.from_url("memcached://127.0.0.1")
    assert store.servers == [("127.0.0.1", 11211)]
    assert store.prefix == ""
    assert store.options.max_pool_size is None
    assert (store.options.dead, store.options.dead_timeout) == ("raise", 5.0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://", "names no server"),
        ("memcached://h:1/db", "no path"),
        ("memcached://u:pw@h:1", "no credentials"),
        ("memcached://h:1?dead=ignore", "must be one of raise, forget"),
        ("memcached://h:1?timeout=0", "more than 0"),
        ("memcached://h:1?max_pool_size=0", "at least 1"),
        ("memcached://h:1?pool=3", "unknown option"),
        ("memcached://h:1?prefix=a%20b", "printable ASCII"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


@pytest.mark.parametrize("prefix", ["app 1:", "tab\t", "nl\n", "ctl\x01", "caf\u00e9:", "p" * 187])
def test_invalid_prefix_rejected_at_construction(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        MemcachedStore("127.0.0.1:1", prefix=prefix)


def test_longest_prefix_still_fits() -> None:
    MemcachedStore("127.0.0.1:1", prefix="p" * 186)


def test_construction_does_not_connect() -> None:
    store = MemcachedStore("127.0.0.1:1")  # nothing listens on port 1
    store.close()


# memcached semantics


def test_ttl_over_30_days_is_sent_as_absolute_time(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address)
    key = _key()
    store.save(key, b"remember me", 45 * DAY)
    assert abs(_ttl_on_server(trio[0], key) - 45 * DAY) <= 2
    record = store.load(key)
    assert record is not None and abs(record.expires_at - (time.time() + 45 * DAY)) <= 2
    assert store.touch(key, 90 * DAY)
    assert abs(_ttl_on_server(trio[0], key) - 90 * DAY) <= 2
    assert store.touch(key, 30 * DAY)  # exactly 30 days is still relative
    assert abs(_ttl_on_server(trio[0], key) - 30 * DAY) <= 2


def test_shortened_touch_makes_record_invisible(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address)
    key = _key()
    store.save(key, b"x", 600)
    assert store.touch(key, 1)
    time.sleep(1.2)
    assert store.load(key) is None
    assert store.touch(key, 600) is False


def test_touch_keeps_cas_token_so_a_loaded_version_still_saves(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address)
    key = _key()
    store.save(key, b"one", 60)
    record = store.load(key)
    assert record is not None
    _, token_before = _raw(trio[0]).gets(key)
    assert store.touch(key, 600)
    _, token_after = _raw(trio[0]).gets(key)
    assert token_before == token_after  # memcached's TOUCH leaves the CAS token alone
    store.save(key, b"two", 60, version=record.version)


def test_save_without_a_prior_load_checks_the_stored_version(trio: list[MemcachedServer]) -> None:
    writer, other = MemcachedStore(trio[0].address), MemcachedStore(trio[0].address)
    key = _key()
    v1 = writer.save(key, b"one", 60)
    v2 = other.save(key, b"two", 60, version=v1)  # never loaded: reads, then cas
    with pytest.raises(VersionConflict):
        other.save(key, b"stale", 60, version=v1)
    record = writer.load(key)
    assert record is not None and (record.data, record.version) == (b"two", v2)


def test_foreign_value_under_the_prefix_is_an_error(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address, prefix="shared:")
    key = _key()
    _raw(trio[0]).set("shared:" + key, b"someone else's", expire=60)
    with pytest.raises(StoreError, match="not written by wsgisession"):
        store.load(key)


def test_keys_spread_over_nodes_as_hashclient_spreads_them(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore([s.address for s in trio], prefix="spread:")
    hashing = HashClient([("127.0.0.1", s.port) for s in trio])
    keys = [_key() for _ in range(60)]
    for key in keys:
        store.save(key, b"x", 60)
    owners = {key: _owner(trio, "spread:" + key) for key in keys}
    assert {owner.port for owner in owners.values()} == {s.port for s in trio}
    for key in keys:
        assert hashing.get("spread:" + key) is not None


def test_record_survives_server_side_close_of_pooled_connections(memcached_binary: str) -> None:
    with memcached_servers(memcached_binary, 1) as [server]:
        store = MemcachedStore(server.address, dead_timeout=60)
        key = _key()
        store.save(key, b"x", 60)
        server.kill()
        server.start()  # same port, empty; the pooled connection is now dead
        assert store.load(key) is None  # reconnected, no StoreUnavailable
        store.save(key, b"y", 60)


def test_store_works_in_a_forked_child(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address)
    key = _key()
    version = store.save(key, b"parent", 60)
    assert store.load(key) is not None  # the parent now holds a pooled connection
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            record = store.load(key)
            if record is not None and record.version == version:
                store.save(key, b"child", 60, version=version)
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    record = store.load(key)
    assert record is not None and record.data == b"child"


def test_value_too_large_for_memcached_is_a_store_error(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address)
    with pytest.raises(StoreError, match=trio[0].address):
        store.save(_key(), b"x" * (2 * 1024 * 1024), 60)
    assert store.load(_key()) is None  # the connection is still good


def test_ipv6_loopback_server(memcached_binary: str) -> None:
    try:
        server = MemcachedServer(memcached_binary, host="::1").start()
    except OSError as exc:
        require_server("an IPv6 loopback address", str(exc))
        raise
    try:
        store = open_store(f"memcached://[::1]:{server.port}")
        key = _key()
        store.save(key, b"v6", 60)
        record = store.load(key)
        assert record is not None and record.data == b"v6"
        server.kill()
        with pytest.raises(StoreUnavailable) as info:
            store.load(key)
        assert info.value.server == f"[::1]:{server.port}"
    finally:
        server.stop()


# Unreachable and dead servers


def test_unreachable_server_raises_quickly_naming_it() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = MemcachedStore(f"127.0.0.1:{port}", timeout=0.5, connect_timeout=0.5)
    for call in (
        lambda: store.load(_key()),
        lambda: store.save(_key(), b"x", 60),
        lambda: store.save(_key(), b"x", 60, version=1),
        lambda: store.touch(_key(), 60),
        lambda: store.delete(_key()),
    ):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert time.monotonic() - started < 0.5
        assert info.value.server == f"127.0.0.1:{port}"


def test_hung_server_raises_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        store = MemcachedStore(f"127.0.0.1:{port}", timeout=0.3, connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
            store.load(_key())
        assert 0.25 < time.monotonic() - started < 1.0


def test_busy_pool_waits_then_raises(trio: list[MemcachedServer]) -> None:
    store = MemcachedStore(trio[0].address, max_pool_size=1, timeout=0.2)
    cluster = store._nodes()
    node = cluster.nodes[0]
    assert node.slots is not None
    node.slots.acquire()  # another thread holds the only connection
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="busy"):
            store.load(_key())
        assert time.monotonic() - started >= 0.2
    finally:
        node.slots.release()
    assert store.load(_key()) is None


def _sessions(store: MemcachedStore, count: int) -> dict[str, int]:
    return {key: store.save(key, key.encode(), 600) for key in (_key() for _ in range(count))}


def test_dead_node_raise_and_forget(fresh_trio: list[MemcachedServer]) -> None:
    addresses = [s.address for s in fresh_trio]
    raising = MemcachedStore(addresses, prefix="fail:", dead="raise", dead_timeout=0.5)
    forgetting = MemcachedStore(addresses, prefix="fail:", dead="forget", dead_timeout=0.5)
    sessions = _sessions(raising, 100)
    victim = fresh_trio[1]
    on_victim = {key for key in sessions if _raw(victim).get("fail:" + key) is not None}
    assert 10 < len(on_victim) < 60
    assert forgetting.load(next(iter(on_victim))) is not None  # pooled connections now open
    victim.kill()

    for key, version in sessions.items():
        if key in on_victim:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as info:
                raising.load(key)
            assert info.value.server == victim.address
            assert time.monotonic() - started < 0.5
            assert forgetting.load(key) is None  # starts over
            assert forgetting.touch(key, 600) is False
            with pytest.raises(VersionConflict):
                forgetting.save(key, b"lost", 600, version=version)
        else:
            for store in (raising, forgetting):
                record = store.load(key)
                assert record is not None and record.data == key.encode()

    # A session that starts over under dead=forget is saved on a live node.
    moved = next(iter(on_victim))
    forgetting.save(moved, b"new start", 600)
    assert _owner([s for s in fresh_trio if s is not victim], "fail:" + moved) is not None
    record = forgetting.load(moved)
    assert record is not None and record.data == b"new start"

    # The node comes back: once dead_timeout has passed it is used again by both.
    victim.start()
    time.sleep(0.6)
    for store in (raising, forgetting):
        fresh = _sessions(store, 30)
        landed = [key for key in fresh if _raw(victim).get("fail:" + key) is not None]
        assert landed, "no new session landed on the restarted node"
        for key in landed:
            record = store.load(key)
            assert record is not None and record.data == key.encode()
    assert raising.load(next(iter(on_victim - {moved}))) is None  # its old data died with it
    assert forgetting.load(moved) is None  # saved elsewhere while it was away: documented loss


def test_all_nodes_dead_under_forget_raises(fresh_trio: list[MemcachedServer]) -> None:
    store = MemcachedStore([s.address for s in fresh_trio], dead="forget", dead_timeout=60)
    key = _key()
    store.save(key, b"x", 60)
    for server in fresh_trio:
        server.kill()
    with pytest.raises(StoreUnavailable):
        for _ in range(3):  # each call finds one more node dead
            store.load(_key())
    with pytest.raises(StoreUnavailable):
        store.load(key)


# Round trips


class TestMemcachedRoundTrips(RoundTripContract):
    @pytest.fixture
    def store_factory(self, trio: list[MemcachedServer]) -> StoreFactory:
        return lambda prefix: MemcachedStore([s.address for s in trio], prefix=prefix)


def _commands(server: MemcachedServer) -> dict[str, int]:
    stats = _raw(server).stats()
    names = ("cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses")
    return {name: int(stats[name.encode()]) for name in names}


def _wire_calls(server: MemcachedServer, before: dict[str, int]) -> dict[str, int]:
    # The stats command itself is not counted by memcached.
    after = _commands(server)
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def test_each_store_call_is_one_memcached_command(trio: list[MemcachedServer]) -> None:
    server = trio[2]
    store = MemcachedStore(server.address)
    key = _key()
    before = _commands(server)
    version = store.save(key, b"new", 60)
    assert _wire_calls(server, before) == {"cmd_set": 1}  # add
    before = _commands(server)
    record = store.load(key)
    assert record is not None and record.version == version
    assert _wire_calls(server, before) == {"cmd_get": 1}  # meta get
    before = _commands(server)
    store.save(key, b"changed", 60, version=record.version)
    assert _wire_calls(server, before) == {"cmd_set": 1}  # cas, with the token the load saw
    before = _commands(server)
    assert store.touch(key, 120)
    assert _wire_calls(server, before) == {"cmd_touch": 1}
    before = _commands(server)
    store.delete(key)
    assert _wire_calls(server, before) == {"delete_hits": 1}
