"""How a session record is laid out in one Redis string, and the scripts that change it.

A record is a 17-byte header followed by the opaque session data::

    byte 0       format (1)
    bytes 1-8    version, unsigned 64-bit big-endian
    bytes 9-16   expires_at, Unix seconds as a big-endian IEEE double

Keeping the version and expiry in the value, rather than in a hash beside it, keeps a
session to one key (one hash slot in a cluster), makes ``load`` one plain GET, and lets
the scripts read the header with GETRANGE and move the expiry with SETRANGE without
copying the data. Redis's own key expiry is set to the same moment, so the server drops
a record when the store would stop returning it; the store still checks ``expires_at``
itself so that a record never outlives its expiry by the server's clock or lazy expiry.
"""

from __future__ import annotations

import struct

from wsgisession.store import Record, StoreError

__all__ = ["SAVE_SCRIPT", "TOUCH_SCRIPT", "pack", "pack_expiry", "pack_version", "unpack"]

FORMAT = 1
_HEADER = struct.Struct(">BQd")
_VERSION = struct.Struct(">Q")
_EXPIRY = struct.Struct(">d")

# KEYS[1] the record; ARGV: expected version (8 bytes), now (seconds), new record, ttl (ms).
# Returns 1 when the record was replaced, 0 when it is missing, expired or of another version.
SAVE_SCRIPT = """
local head = redis.call('GETRANGE', KEYS[1], 0, 16)
if #head ~= 17 or string.byte(head, 1) ~= 1 or string.sub(head, 2, 9) ~= ARGV[1]
   or struct.unpack('>d', head, 10) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
"""

# KEYS[1] the record; ARGV: now (seconds), new expires_at (8-byte double), ttl (ms).
# Rewrites only the 8 header bytes that hold the expiry, then moves the key's own expiry.
TOUCH_SCRIPT = """
local head = redis.call('GETRANGE', KEYS[1], 0, 16)
if #head ~= 17 or string.byte(head, 1) ~= 1 or struct.unpack('>d', head, 10) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('SETRANGE', KEYS[1], 9, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


def pack(version: int, expires_at: float, data: bytes) -> bytes:
    """The stored form of a record."""
    return _HEADER.pack(FORMAT, version, expires_at) + data


def pack_version(version: int) -> bytes:
    """A version as the SAVE script compares it, byte for byte."""
    return _VERSION.pack(version)


def pack_expiry(expires_at: float) -> bytes:
    """An expiry as the TOUCH script writes it into the header."""
    return _EXPIRY.pack(expires_at)


def unpack(key: str, value: bytes) -> Record:
    """The record stored as ``value`` under ``key``; :class:`StoreError` if it is not one."""
    if len(value) < _HEADER.size or value[0] != FORMAT:
        raise StoreError(
            f"the Redis value under {key!r} is not a wsgisession record; "
            "is another application writing under the same key prefix?"
        )
    _, version, expires_at = _HEADER.unpack_from(value)
    return Record(value[_HEADER.size :], version, expires_at)
