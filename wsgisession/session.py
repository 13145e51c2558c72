"""Session: the dict-like object an application finds at ``environ["wsgisession"]``.

It loads its record from the store on first use, so a request that never touches
the session costs no round trip. What to write back is decided by the engine when
the response starts; the session only keeps the state that decision needs.
"""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from . import payload
from .store import Record

if TYPE_CHECKING:
    from .engine import SessionEngine

__all__ = ["Session"]

_IMMUTABLE = frozenset(
    {str, int, float, bool, type(None), bytes, datetime.datetime, datetime.date, uuid.UUID, decimal.Decimal}
)


MovedFrom = tuple[str, Record, payload.Payload | None]
"""The id a regenerated session moved from, with its record and payload as loaded."""


class Session(MutableMapping[str, Any]):
    """A server-side session: a mutable mapping of string keys to storable values.

    Besides the mapping it offers ``id``, ``is_new``, ``modified``, ``accessed``,
    a writable ``max_age``, ``created``, :meth:`regenerate` and :meth:`destroy`.
    Nested mutation (``session["cart"].append(item)``) is seen without any marking.
    """

    # The request's state, defaulted here so that a request that never uses its
    # session pays for two assignments, not fourteen.
    _sid: str | None = None
    _from_cookie: str | None = None  # the verified id the request's cookie carried
    _data: dict[str, Any] | None = None
    _record: Record | None = None
    _loaded: payload.Payload | None = None
    _created = 0.0
    _stored_max_age: int | None = None
    _retired: tuple[str, ...] = ()  # ids this request destroyed or moved away from
    _moved_from: MovedFrom | None = None
    _uses = 0  # every use of the session through its API counts one
    _dirty = False  # set, deleted or lifetime changed since loaded or saved
    _committed_at = -1  # the count of uses when the engine last committed

    def __init__(self, engine: SessionEngine, read_id: Callable[[], str | None]) -> None:
        self._engine = engine
        # The cookie is verified only when the session is first used: a request that
        # never touches its session pays for no parsing and no HMAC.
        self._read_id: Callable[[], str | None] | None = read_id

    # --- loading -----------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        self._uses += 1
        data = self._data
        if data is not None:
            return data
        sid = self._cookie_id()
        found = self._engine.load(sid) if sid is not None else None
        if found is None:
            self._sid = None  # an id without a live record is never adopted
            self._created, self._stored_max_age, data = time.time(), None, {}
        else:
            self._record, self._loaded, data = found
            self._created, self._stored_max_age = self._loaded.created, self._loaded.max_age
        self._data = data
        return data

    @property
    def accessed(self) -> bool:
        """Whether the application (or a rolling refresh) has used the session."""
        return self._data is not None

    def _clean(self) -> bool:
        """Whether the data is sure to be what was loaded or last saved: nothing was set
        or deleted, and every value is immutable, so nothing was changed in place.
        Saves encoding the session to find out, on the commonest request: a read."""
        return not self._dirty and self._data is not None and self._holds_only_immutables()

    def _unchanged_since_commit(self) -> bool:
        """Whether nothing can have changed since the last commit: the session was not
        used since, and it holds no list, dict or other value that could have been
        changed in place through a reference the app kept."""
        return self._uses == self._committed_at and not self._retired and self._holds_only_immutables()

    def _holds_only_immutables(self) -> bool:
        return self._data is None or all(type(value) in _IMMUTABLE for value in self._data.values())

    def _cookie_id(self) -> str | None:
        """The verified id the request's cookie carries, read on first need."""
        if self._read_id is not None:
            self._sid = self._from_cookie = self._read_id()
            self._read_id = None
        return self._sid

    # --- mapping -------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys must be strings, not {type(key).__name__}")
        self._load()[key] = value
        self._dirty = True

    def __delitem__(self, key: str) -> None:
        del self._load()[key]
        self._dirty = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, key: object) -> bool:
        return key in self._load()

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        return self._load().get(key, default)

    def clear(self) -> None:
        """Remove every key; a session left empty is deleted at the end of the request."""
        self._load().clear()
        self._dirty = True

    def __repr__(self) -> str:
        state = "not loaded" if self._data is None else repr(self._data)
        return f"<Session {state}>"

    # --- identity and lifetime --------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id (new sessions get one on first use of this property)."""
        self._load()
        if self._sid is None:
            self._sid = self._engine.new_id()
        return self._sid

    @property
    def is_new(self) -> bool:
        """Whether no stored record backs this session (yet)."""
        self._load()
        return self._record is None

    @property
    def created(self) -> float:
        """When the session was created, as a Unix time."""
        self._load()
        return self._created

    @property
    def modified(self) -> bool:
        """Whether this request changed the session (data, lifetime, id or existence)."""
        if self._retired:
            return True
        if self._data is None:
            return False
        if self._record is None:
            return bool(self._data)
        return not self._clean() and self._engine.encode(self) != self._record.data

    @property
    def max_age(self) -> int | None:
        """This session's cookie lifetime in seconds; ``None`` ends it with the browser
        session. Set it (e.g. for "remember me") to change this session alone; delete
        it to follow the middleware's ``max_age`` again."""
        self._load()
        if self._stored_max_age is None:
            return self._engine.expiry.max_age
        return None if self._stored_max_age == payload.BROWSER_SESSION else self._stored_max_age

    @max_age.setter
    def max_age(self, seconds: int | None) -> None:
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0):
            raise ValueError(f"max_age must be a positive number of seconds or None, not {seconds!r}")
        self._load()
        self._stored_max_age = payload.BROWSER_SESSION if seconds is None else seconds
        self._dirty = True

    @max_age.deleter
    def max_age(self) -> None:
        """``del session.max_age``: follow the middleware's ``max_age`` again."""
        self._load()
        self._stored_max_age = None
        self._dirty = True

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data; the old record is deleted.
        Call it on login, so that an id planted before login is worth nothing after."""
        self._load()
        if self._sid is not None and self._record is not None:
            self._retired += (self._sid,)
            self._moved_from = (self._sid, self._record, self._loaded)
        self._sid, self._record, self._loaded = None, None, None

    def destroy(self) -> None:
        """Delete the session's record and expire its cookie. Call it on logout.

        The session is empty afterwards; anything written to it later in the same
        request starts a new session under a new id.
        """
        # The id the cookie names is deleted without a load, and its cookie expired,
        # whether or not a record was found; so is a record this request created.
        self._cookie_id()
        for sid in (self._from_cookie, self._sid if self._record is not None else None):
            if sid is not None and sid not in self._retired:
                self._retired += (sid,)
        self._moved_from = None
        self._uses += 1
        self._sid, self._record, self._loaded = None, None, None
        self._data, self._created, self._stored_max_age = {}, time.time(), None
