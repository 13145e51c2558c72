"""The bytes a session is stored as: a one-line header of metadata, then the data.

The header keeps what the middleware needs beside the user's dict (when the session
was created, and its own ``max_age`` if the app set one), so that the dict holds
only what the app put there and so that the data part can be compared byte for
byte with what was loaded to tell whether it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BROWSER_SESSION", "TOMBSTONE", "TOMBSTONE_TTL", "Payload", "decode", "encode"]

_MAGIC = b"ws1"
BROWSER_SESSION = -1
"""``max_age`` as stored for a session whose cookie ends with the browser session."""

TOMBSTONE = _MAGIC + b" gone\n"
"""The protocol's delete is unconditional: it would erase a change another request
saved meanwhile. So where the engine deletes a record other requests may be saving
to (a session emptied of its last key, the old id of a regenerated one), it first
replaces it by this tombstone, with a save conditional on the version it loaded, and
deletes it right after. The tombstone reads as no session at all."""
TOMBSTONE_TTL = 30
"""Seconds a tombstone lives if its delete never comes (the process died between)."""


@dataclass(frozen=True, slots=True)
class Payload:
    """A stored session taken apart: ``created`` (Unix time), ``max_age`` (seconds,
    ``None`` for the middleware's default, or :data:`BROWSER_SESSION`) and ``data``."""

    created: float
    max_age: int | None
    data: bytes


def encode(payload: Payload) -> bytes:
    """Frame ``payload`` for the store."""
    max_age = b"-" if payload.max_age is None else str(payload.max_age).encode()
    return b"%s %.3f %s\n%s" % (_MAGIC, payload.created, max_age, payload.data)


def decode(raw: bytes) -> Payload:
    """Take apart bytes made by :func:`encode`; :class:`ValueError` for anything else."""
    header, newline, data = raw.partition(b"\n")
    parts = header.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != _MAGIC:
        raise ValueError("stored session has no wsgisession header")
    max_age = None if parts[2] == b"-" else int(parts[2])
    return Payload(float(parts[1]), max_age, data)
