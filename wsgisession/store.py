"""The store contract: what every session store promises, and how stores are opened.

A store keeps opaque bytes under a key, with an expiry and a version. It never sees
Python objects, cookies or session ids: the middleware hands it a key that is already
a hash of the id (plus the store's own prefix, which the store adds itself).

A new store's author implements :class:`SessionStore`, runs
:class:`wsgisession.testing.StoreContract` against it, and registers a URL scheme
with :func:`register_store` or the ``wsgisession.stores`` entry point group.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

__all__ = [
    "Clearable",
    "Countable",
    "Prunable",
    "Record",
    "SessionStore",
    "StoreError",
    "StoreFactory",
    "StoreUnavailable",
    "VersionConflict",
    "new_version",
    "open_store",
    "register_store",
]


class StoreError(Exception):
    """A store could not do what was asked of it."""


class StoreUnavailable(StoreError):
    """The store's server could not be reached; ``server`` names it (``host:port``)."""

    def __init__(self, server: str, reason: object = None) -> None:
        self.server = server
        message = f"session store at {server} is unavailable"
        if reason is not None:
            message += f": {reason}"
        super().__init__(message)


class VersionConflict(StoreError):
    """A conditional save found another version, or no record, under the key."""


@dataclass(frozen=True, slots=True)
class Record:
    """One stored session: the opaque ``data``, its ``version``, and ``expires_at``.

    ``expires_at`` is a Unix time in seconds. A store never returns a record whose
    ``expires_at`` has passed.
    """

    data: bytes
    version: int
    expires_at: float


class SessionStore(Protocol):
    """What the middleware needs from a store. Every method may raise
    :class:`StoreUnavailable`; none may hang longer than the store's configured
    timeout.

    A store connects lazily, in the process that first uses it (so a pre-forking
    server's workers never share a socket), and is safe to share between threads.
    """

    def load(self, key: str) -> Record | None:
        """Return the record under ``key``, or ``None`` if there is none or it has
        expired (even where the server would still keep it)."""

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Write ``data`` to live ``ttl`` seconds from now and return its new version.

        With ``version=None`` this creates the record and raises
        :class:`VersionConflict` if a live record already exists under ``key``.
        Otherwise it replaces the record only if its stored version still equals
        ``version``, and raises :class:`VersionConflict` if it does not or if the
        record is gone. A new version never equals any earlier version of the key.
        """

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry of a live record to ``ttl`` seconds from now without
        rewriting its data or version. Return ``False`` if there is no live record."""

    def delete(self, key: str) -> None:
        """Remove the record under ``key``; removing a missing record is not an error."""

    def close(self) -> None:
        """Release connections. The store may be used again afterwards; it reconnects."""


@runtime_checkable
class Prunable(Protocol):
    """A store that can drop its expired records on demand."""

    def prune(self) -> int:
        """Delete expired records and return how many were deleted."""


@runtime_checkable
class Countable(Protocol):
    """A store that can count its live records."""

    def count(self) -> int:
        """Return the number of live records under this store's prefix."""


@runtime_checkable
class Clearable(Protocol):
    """A store that can delete every record it owns."""

    def clear(self) -> None:
        """Delete every record under this store's prefix, and nothing else."""


def new_version() -> int:
    """A fresh random record version for a store to use: 62 bits (it fits a signed
    64-bit column), so never equal to an earlier version of the key, even one that
    was deleted and created again, on another node, or before a restart."""
    return random.getrandbits(62) + 1


StoreFactory = Callable[[str], SessionStore]
"""Builds a store from its URL, e.g. ``MemcachedStore.from_url``."""

ENTRY_POINT_GROUP = "wsgisession.stores"

# Schemes served by this distribution, importable by name so that a source checkout
# works without installed entry points; the extra says what to install when the
# store package's driver is missing.
_BUILTIN: dict[str, tuple[str, str | None]] = {
    "memory": ("wsgisession.memory:MemoryStore.from_url", None),
    "sqlite": ("wsgisession.sqlite:SQLiteStore.from_url", None),
    "memcached": ("wsgisession_memcached:MemcachedStore.from_url", "memcached"),
    "postgresql": ("wsgisession_postgres:PostgresStore.from_url", "postgres"),
    "postgres": ("wsgisession_postgres:PostgresStore.from_url", "postgres"),
    "redis": ("wsgisession_redis:RedisStore.from_url", "redis"),
    "rediss": ("wsgisession_redis:RedisStore.from_url", "redis"),
    "unix": ("wsgisession_redis:RedisStore.from_url", "redis"),
    "redis+cluster": ("wsgisession_redis:RedisStore.from_url", "redis"),
}

_registered: dict[str, StoreFactory] = {}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make ``open_store`` build ``scheme://...`` URLs with ``factory``.

    A registered factory takes precedence over entry points and built-in schemes.
    """
    _registered[scheme.lower()] = factory


def open_store(url: str) -> SessionStore:
    """Build the store a URL names, e.g. ``open_store("sqlite:///sessions.db")``.

    Raises :class:`ValueError` for an unknown scheme and :class:`ImportError` naming
    the extra to install when the store's driver is missing. Opening a store never
    connects: the first request that needs it does.
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme:
        raise ValueError(f"store URL {url!r} has no scheme; expected e.g. 'sqlite:///sessions.db'")
    return _find_factory(scheme)(url)


def _find_factory(scheme: str) -> StoreFactory:
    if scheme in _registered:
        return _registered[scheme]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
        factory: StoreFactory = ep.load()
        return factory
    if scheme in _BUILTIN:
        target, extra = _BUILTIN[scheme]
        return _import_factory(scheme, target, extra)
    known = sorted(set(_BUILTIN) | set(_registered))
    raise ValueError(
        f"unknown session store scheme {scheme!r}; use one of {', '.join(known)}, "
        f"or register a store for it with wsgisession.register_store()"
    )


def _import_factory(scheme: str, target: str, extra: str | None) -> StoreFactory:
    module_name, _, attr_path = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        driver = (exc.name or module_name).split(".")[0]
        hint = f'pip install ".[{extra}]" in a clone of wsgisession' if extra else "reinstall wsgisession"
        raise ImportError(f"{scheme}:// session stores need {driver}: {hint}") from exc
    obj: object = module
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    factory: StoreFactory = obj  # type: ignore[assignment]
    return factory
