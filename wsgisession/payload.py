"""The bytes a session is stored as: a one-line header of metadata, then the data.

The header keeps what the middleware needs beside the user's dict (when the session
was created, and its own ``max_age`` if the app set one), so that the dict holds
only what the app put there and so that the data part can be compared byte for
byte with what was loaded to tell whether it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BROWSER_SESSION", "EMPTIED", "GONE", "TOMBSTONE_TTL", "Payload", "decode", "encode"]

_MAGIC = b"ws1"
BROWSER_SESSION = -1
"""``max_age`` as stored for a session whose cookie ends with the browser session."""

GONE = _MAGIC + b" gone\n"
EMPTIED = _MAGIC + b" empty\n"
TOMBSTONE_TTL = 30
"""The protocol's delete is unconditional, and would erase a change another request
saved meanwhile. So where the engine deletes a record other requests may be saving
to, it first replaces it, with a save conditional on the version it loaded, by a
tombstone that lives :data:`TOMBSTONE_TTL` seconds (longer than a request runs):
:data:`GONE` for the old id of a regenerated session, :data:`EMPTIED` for a session
emptied of its last key. Both read as no session at all; a request that loaded the
session before it was emptied, and saves after, merges its changes into the empty
session instead of losing them."""


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
