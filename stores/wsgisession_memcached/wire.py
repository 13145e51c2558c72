"""What goes over the wire to memcached (private to this package).

A stored value is a 9-byte header (a format byte, then the record's version as an
unsigned 64-bit integer) followed by the session's bytes. The version lives in the
value rather than being memcached's CAS token because a CAS token is only unique for
the life of one memcached process, and because a ``cas`` command does not report the
token it creates. The CAS token is still what makes a save conditional.

The expiry does not live in the value: ``touch`` must move it with memcached's TOUCH,
which cannot rewrite the value. Instead :meth:`MetaClient.meta_get` reads the data,
the CAS token and the remaining time to live in one round trip (``mg <key> v c t``,
memcached 1.6 and later), which classic ``gets`` cannot do.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from pymemcache.client.base import Client, _readline, _readvalue  # type: ignore[import-untyped]
from pymemcache.exceptions import MemcacheUnknownError  # type: ignore[import-untyped]

from wsgisession.store import StoreError

__all__ = [
    "HASHED_KEY_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_RELATIVE_EXPIRY",
    "MetaClient",
    "decode",
    "encode",
    "exptime",
    "key_pattern",
    "meta_get",
]

MAX_KEY_LENGTH = 250
"""memcached's limit on a key, in bytes."""

HASHED_KEY_LENGTH = 64
"""The length of the keys the middleware hands a store (a hex SHA-256)."""

MAX_RELATIVE_EXPIRY = 30 * 86_400
"""memcached reads an expiry above this many seconds as an absolute Unix time."""

_FORMAT = 1
_HEADER = struct.Struct(">BQ")


def encode(version: int, data: bytes) -> bytes:
    """The value stored for ``data`` at ``version``."""
    return _HEADER.pack(_FORMAT, version) + data


def decode(key: str, value: bytes) -> tuple[int, bytes]:
    """Split a stored value into its version and data; a value this store did not
    write (another application sharing the prefix) is a :class:`StoreError`."""
    if len(value) < _HEADER.size or value[0] != _FORMAT:
        raise StoreError(f"memcached value under {key!r} was not written by wsgisession; is the prefix shared?")
    _, version = _HEADER.unpack_from(value)
    return int(version), value[_HEADER.size :]


def exptime(ttl: int, now: float) -> int:
    """memcached's expiry field for a record that lives ``ttl`` seconds from ``now``.

    Above 30 days memcached wants an absolute time; rounding ``now`` down means a
    record may end up to a second early, never late. A ``ttl`` of zero or less would
    read as "never expire", so it becomes -1 (already expired).
    """
    if ttl <= 0:
        return -1
    if ttl <= MAX_RELATIVE_EXPIRY:
        return int(ttl)
    return int(now) + int(ttl)


def key_pattern(prefix: str) -> re.Pattern[str]:
    """The keys a store with ``prefix`` accepts, or ``ValueError`` for a bad prefix.

    memcached keys are at most 250 bytes with no spaces or control characters; the
    prefix must leave room for the middleware's 64-character hashed key.
    """
    room = MAX_KEY_LENGTH - len(prefix)
    if not re.fullmatch(r"[!-~]*", prefix):
        raise ValueError(
            f"memcached key prefix {prefix!r} may hold only printable ASCII without spaces "
            "(memcached keys cannot contain spaces, control or non-ASCII characters)"
        )
    if room < HASHED_KEY_LENGTH:
        raise ValueError(
            f"memcached key prefix is {len(prefix)} characters long; at most "
            f"{MAX_KEY_LENGTH - HASHED_KEY_LENGTH} leave room for a session key within memcached's 250 bytes"
        )
    return re.compile(f"[!-~]{{1,{room}}}")


class MetaClient(Client):  # type: ignore[misc]
    """A pymemcache ``Client`` that also speaks memcached's meta get."""

    def meta_get(self, key: bytes) -> tuple[bytes, int, int] | None:
        """Return ``(value, cas, ttl)`` for ``key``, or ``None`` on a miss.

        ``ttl`` is the seconds memcached will still keep the item, -1 for never.
        Errors leave the connection closed, as pymemcache's own commands do.
        """
        if self.sock is None:
            self._connect()
        try:
            self.sock.sendall(b"mg " + key + b" v c t\r\n")
            buf, line = _readline(self.sock, b"")
            if line == b"EN":
                return None
            self._raise_errors(line, b"mg")
            head, size, *flags = line.split()
            if head != b"VA":
                raise MemcacheUnknownError(line[:32])
            buf, value = _readvalue(self.sock, buf, int(size))
            returned = {flag[:1]: int(flag[1:]) for flag in flags}
            return value, returned[b"c"], returned[b"t"]
        except Exception:
            self.close()
            raise


def meta_get(pooled: Any, key: bytes) -> tuple[bytes, int, int] | None:
    """:meth:`MetaClient.meta_get` on a connection borrowed from a ``PooledClient``."""
    with pooled.client_pool.get_and_release(destroy_on_fail=True) as client:
        result: tuple[bytes, int, int] | None = client.meta_get(key)
        return result
