"""SessionEngine: loads sessions from the store and writes them back.

The engine holds everything a session needs from the middleware's configuration
(store, serializer, lifetimes) and decides, when a response starts, what the store
and the browser must be told: save, touch, delete, or nothing.

Saves are conditional on the version that was loaded. When another request of the
same session saved first, the engine reloads, re-applies this request's own changes
key by key and tries again (``conflicts="merge"``), so neither request's changes are
lost; a session deleted meanwhile is never brought back. Deletes that other requests
may race with (a session emptied of its last key, the old id of a regenerated one)
are made conditional the same way, through a tombstone (see :data:`payload.TOMBSTONE`).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import payload
from .config import ExpiryOptions
from .ids import store_key, valid_id
from .serializers import Serializer
from .session import MovedFrom, Session
from .store import Record, SessionStore, StoreError, VersionConflict

__all__ = ["CommitResult", "ConflictStats", "SessionConflictError", "SessionEngine"]

log = logging.getLogger("wsgisession")

ROLLING_REFRESH = 0.1
"""With ``rolling``, the store is touched once the expiry would move by this fraction
of ``max_age``; so the browser's and the server's expiries differ by at most that."""

MAX_ATTEMPTS = 8
BACKOFF, BACKOFF_CAP = 0.001, 0.05
"""Seconds: after the n-th conflict in a row a request waits a random time up to
``min(BACKOFF * 2**n, BACKOFF_CAP)`` before it reloads, so that contending requests
spread out instead of colliding again."""
Conflicts = Literal["merge", "overwrite"]
_Saved = Literal["saved", "emptied", "gone"]


class SessionConflictError(StoreError):
    """Concurrent requests kept changing the session; this request's changes were not
    saved rather than overwrite theirs."""


@dataclass
class ConflictStats:
    """Counters of concurrent-save contention, for operators: ``conflicts`` seen,
    saves ``merged`` after a conflict, ``dropped`` (the session was destroyed or
    regenerated meanwhile) and ``given_up`` after too many attempts."""

    conflicts: int = 0
    merged: int = 0
    dropped: int = 0
    given_up: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        """Count one event."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict."""
        with self._lock:
            names = ("conflicts", "merged", "dropped", "given_up")
            return {name: getattr(self, name) for name in names}


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What the browser must learn: a new cookie ``value`` (with ``max_age``), or
    that its cookie is to be ``expire``-d."""

    value: str | None = None
    max_age: int | None = None
    expire: bool = False


NOTHING = CommitResult()
EXPIRE = CommitResult(expire=True)


class SessionEngine:
    """Moves sessions between the application and the store. Internal to the middleware;
    stores and integrations see only :class:`~wsgisession.session.Session`."""

    def __init__(
        self,
        store: SessionStore,
        serializer: Serializer,
        expiry: ExpiryOptions,
        genid: Callable[[], str],
        save_uninitialized: bool = False,
        conflicts: Conflicts = "merge",
    ) -> None:
        self.store = store
        self.serializer = serializer
        self.expiry = expiry
        self.genid = genid
        self.save_uninitialized = save_uninitialized
        self.conflicts = conflicts
        self.stats = ConflictStats()

    def open(self, read_id: Callable[[], str | None]) -> Session:
        """A lazy session whose id, verified from the cookie, ``read_id`` returns."""
        return Session(self, read_id)

    def new_id(self) -> str:
        """A fresh session id from ``genid``."""
        sid = self.genid()
        if not valid_id(sid):
            raise ValueError(f"genid returned {sid!r}; ids must be 22-128 URL-safe base64 characters")
        return sid

    # --- reading -----------------------------------------------------------------------

    def load(self, sid: str) -> tuple[Record, payload.Payload, dict[str, Any]] | None:
        """The live record of ``sid`` decoded, or ``None`` (absent, expired, unreadable)."""
        key = store_key(sid)
        record = self._live(key)
        if record is None:
            return None
        try:
            stored = payload.decode(record.data)
            data = self.serializer.loads(stored.data)
        except (ValueError, RecursionError) as exc:
            log.warning("deleting a session record that cannot be decoded (%s): %s", key[:12], exc)
            self.store.delete(key)
            return None
        if self.expiry.absolute_timeout and stored.created + self.expiry.absolute_timeout <= time.time():
            return None
        return record, stored, data

    def snapshot(self, session: Session) -> payload.Payload:
        """The session as it would be stored now, not yet framed as bytes."""
        return payload.Payload(session._created, session._stored_max_age, self.serializer.dumps(session._data or {}))

    def encode(self, session: Session) -> bytes:
        """The bytes the session would be stored as now."""
        return payload.encode(self.snapshot(session))

    # --- writing -----------------------------------------------------------------------

    def idle(self, session: Session) -> bool:
        """Whether a commit has surely nothing to do: the request never used its session,
        and without ``rolling`` an unused session is not renewed."""
        return session._data is None and not session._retired and not self.expiry.rolling

    def commit(self, session: Session, can_set_cookie: bool = True) -> CommitResult:
        """Write what this request changed and say what the browser must learn.

        With ``can_set_cookie=False`` (the headers are gone) only changes that need no
        new cookie are written.
        """
        if self.idle(session):
            return NOTHING
        if not session.accessed and not session._retired:  # untouched, with rolling on
            if not (can_set_cookie and session._cookie_id() is not None):
                return NOTHING
            return self._renew_untouched(session)
        data = session._data or {}
        result = self._write(session, can_set_cookie)
        if data and result.value is None and session._record is None:
            # Nothing is stored under the session's id. After a regenerate whose new id
            # could not reach the browser (the headers were gone), the old id must stay.
            return result
        moved = session._moved_from
        for sid in session._retired:
            if moved is not None and sid == moved[0] and session._record is not None:
                result = self._retire_moved(session, moved, result)
            else:
                self.store.delete(store_key(sid))
        if session._retired and result is NOTHING and not data:
            result = EXPIRE
        session._retired, session._moved_from = (), None
        session._committed_at = session._uses
        return result

    def _renew_untouched(self, session: Session) -> CommitResult:
        """A rolling renewal for a request that never used its session: a store that is
        down must not fail a page that does not need it, so the renewal is skipped."""
        try:
            session._load()
            return self._write(session, True)
        except StoreError as exc:
            log.warning("could not renew a rolling session: %s", exc)
            return NOTHING
        finally:
            session._committed_at = session._uses

    def _abandon(self, session: Session) -> CommitResult:
        """Undo a regenerate whose old record someone else deleted meanwhile: the data it
        moved belongs to a session that was destroyed, and must not live on."""
        self.store.delete(store_key(session.id))
        self.stats.add("dropped")
        log.debug("session was destroyed while this request regenerated it; dropping the new id")
        session._record, session._sid, session._data = None, None, {}
        return NOTHING

    def _write(self, session: Session, can_set_cookie: bool) -> CommitResult:
        if not self._keeps(session):
            if session._record is None:
                return NOTHING
            return self._empty(session, can_set_cookie)
        ttl, cookie_max_age = self._lifetime(session)
        if not can_set_cookie and session._record is not None and math.isfinite(session._record.expires_at):
            # No cookie can follow this save: keep the expiry the browser already has.
            ttl = min(ttl, math.ceil(session._record.expires_at - time.time()))
        if ttl <= 0:
            return self._expire(session)
        if session._record is None:
            if not can_set_cookie:
                return self._orphan()
            return self._create(session, payload.encode(self.snapshot(session)), ttl, cookie_max_age)
        lifetime_changed = session._loaded is not None and session._loaded.max_age != session._stored_max_age
        changed = None if session._clean() else self._changed(session, session._record)
        if changed is not None:
            saved = self._save(session, changed[0], ttl, changed[1])
            if saved != "saved":
                return EXPIRE if saved == "emptied" else NOTHING
            ttl, cookie_max_age = self._lifetime(session)  # a merge may adopt another request's max_age
        elif not self._rolling_touch(session, ttl):
            return NOTHING
        if not can_set_cookie or (cookie_max_age is None and not lifetime_changed):
            return NOTHING  # a browser-session cookie has no expiry to renew
        return CommitResult(session.id, cookie_max_age)

    def _changed(self, session: Session, record: Record) -> tuple[payload.Payload, bytes] | None:
        """The session as it would be stored now, if that differs from ``record``."""
        stored = self.snapshot(session)
        raw = payload.encode(stored)
        return None if raw == record.data else (stored, raw)

    def _rolling_touch(self, session: Session, ttl: int) -> bool:
        record = session._record
        if record is None or not self.expiry.rolling or not self._refresh_due(record, ttl):
            return False
        if not self.store.touch(store_key(session.id), ttl):
            return False
        session._record = Record(record.data, record.version, time.time() + ttl)
        return True

    def _keeps(self, session: Session) -> bool:
        """Whether the session is to be stored: it has keys, or empty sessions are kept."""
        return bool(session._data) or (self.save_uninitialized and not session._retired)

    def _empty(self, session: Session, can_set_cookie: bool) -> CommitResult:
        """Delete a session this request emptied, unless a concurrent request put keys in
        it meanwhile: the delete is a conditional save of a tombstone, which finds and
        merges them."""
        ttl, _ = self._lifetime(session)
        if ttl <= 0 or self.conflicts == "overwrite":
            return self._expire(session)
        saved = self._save(session, self.snapshot(session), ttl)
        if saved != "saved":
            return EXPIRE if saved == "emptied" else NOTHING
        ttl, cookie_max_age = self._lifetime(session)
        return CommitResult(session.id, cookie_max_age) if can_set_cookie and cookie_max_age else NOTHING

    def _expire(self, session: Session) -> CommitResult:
        if session._record is not None:
            self.store.delete(store_key(session.id))
            session._record = None
        return EXPIRE

    def _orphan(self) -> CommitResult:
        log.warning("a new session was started after the response headers were sent; it was not saved")
        return NOTHING

    def _lifetime(self, session: Session) -> tuple[int, int | None]:
        """Seconds the record should live, and the cookie's Max-Age (None: browser session)."""
        stored = session._stored_max_age
        if stored is None:
            cookie: int | None = self.expiry.max_age
            idle = self.expiry.idle_timeout
        elif stored == payload.BROWSER_SESSION:
            cookie, idle = None, self.expiry.idle_timeout
        else:
            cookie = idle = stored
        if self.expiry.absolute_timeout:
            remaining = math.floor(session._created + self.expiry.absolute_timeout - time.time())
            idle = min(idle, remaining)
            cookie = None if cookie is None else min(cookie, remaining)
        return idle, cookie

    def _refresh_due(self, record: Record, ttl: int) -> bool:
        return (time.time() + ttl) - record.expires_at >= ttl * ROLLING_REFRESH

    def _create(self, session: Session, raw: bytes, ttl: int, cookie_max_age: int | None) -> CommitResult:
        for _ in range(3):
            try:
                version = self.store.save(store_key(session.id), raw, ttl)
            except VersionConflict:
                session._sid = None  # a taken id: astronomically unlikely, but never share it
                continue
            session._record = Record(raw, version, time.time() + ttl)
            session._dirty = False
            return CommitResult(session.id, cookie_max_age)
        raise SessionConflictError("could not find a free session id in 3 attempts; check genid")

    def _save(self, session: Session, stored: payload.Payload, ttl: int, raw: bytes | None = None) -> _Saved:
        """Save conditionally, merging on conflict. A session left without keys is
        deleted, by a conditional tombstone: ``"emptied"``. ``"gone"``: another request
        deleted it first, and this one's changes are dropped."""
        assert session._record is not None
        key, version = store_key(session.id), session._record.version
        changes: _Changes | None = None
        for attempt in range(MAX_ATTEMPTS):
            keeps = self._keeps(session)
            if not keeps:
                raw = payload.TOMBSTONE
            elif raw is None:
                raw = payload.encode(stored)
            try:
                new_version = self.store.save(key, raw, ttl if keeps else payload.TOMBSTONE_TTL, version)
            except VersionConflict:
                current = self._reload(key, attempt)
                if current is None:
                    self.stats.add("dropped")
                    log.debug("session %s was destroyed by another request; dropping this one's changes", key[:12])
                    # Gone for this request too, so that its close() finds nothing to save.
                    session._record, session._sid, session._data = None, None, {}
                    return "gone"
                if changes is None:
                    changes = self._changes(session, session._loaded)
                stored, version, raw = self._rebase(session, current, changes), current.version, None
                ttl = self._lifetime(session)[0]
                continue
            if attempt:
                self.stats.add("merged")
            if not keeps:
                self.store.delete(key)  # stops a rolling touch, which would revive the id
                session._record = None
                return "emptied"
            session._record = Record(raw, new_version, time.time() + ttl)
            session._loaded, session._dirty = stored, False
            return "saved"
        raise self._give_up()

    def _retire_moved(self, session: Session, moved: MovedFrom, result: CommitResult) -> CommitResult:
        """Delete the id a regenerated session moved from. Changes other requests saved
        to it after this one loaded it are carried over to the new id; a logout that
        deleted it first wins, and the new id is dropped."""
        sid, record, loaded = moved
        key = store_key(sid)
        current: Record | None = None  # the old record as last reloaded, if it changed
        for attempt in range(MAX_ATTEMPTS):
            try:
                self.store.save(key, payload.TOMBSTONE, payload.TOMBSTONE_TTL, record.version)
            except VersionConflict:
                reloaded = self._reload(key, attempt)
                if reloaded is None:
                    return self._abandon(session)  # a logout won the race with this login
                record = current = reloaded
                continue
            # The tombstone stops every save to the old id; deleting it also stops a
            # rolling touch, which would send the dead id back to the browser.
            self.store.delete(key)
            return result if current is None else self._carry_over(session, loaded, current)
        self.store.delete(store_key(session.id))  # the new id must not outlive this failure
        raise self._give_up()

    def _carry_over(self, session: Session, loaded: payload.Payload | None, current: Record) -> CommitResult:
        """Merge what other requests saved to the old id into the new one. Nobody else
        knows the new id yet, so this save does not conflict; it deletes the session if
        the other requests removed every key."""
        self.stats.add("merged")
        stored = self._rebase(session, current, self._changes(session, loaded))
        if self._save(session, stored, self._lifetime(session)[0]) != "saved":
            return EXPIRE
        return CommitResult(session.id, self._lifetime(session)[1])

    def _reload(self, key: str, attempt: int) -> Record | None:
        """After the ``attempt``-th conflict in a row: the record as it is now, to merge
        into; ``None`` if it was deleted (destroyed, emptied or moved by a regenerate)."""
        self.stats.add("conflicts")
        # Wait before reloading, not between reload and save: that gap is where the
        # next conflict comes from.
        time.sleep(random.uniform(0, min(BACKOFF * 2**attempt, BACKOFF_CAP)))
        return self._live(key)

    def _live(self, key: str) -> Record | None:
        """The record under ``key`` if it holds a session (not a tombstone)."""
        record = self.store.load(key)
        return None if record is None or record.data == payload.TOMBSTONE else record

    def _give_up(self) -> SessionConflictError:
        self.stats.add("given_up")
        return SessionConflictError(
            f"session changed under this request {MAX_ATTEMPTS} times in a row; its changes were not saved"
        )

    def _changes(self, session: Session, loaded: payload.Payload | None) -> _Changes:
        """The top-level keys this request set or deleted, relative to ``loaded``."""
        original = self.serializer.loads(loaded.data) if loaded else {}
        mine = session._data or {}
        dumps = self.serializer.dumps
        sets = {k: v for k, v in mine.items() if k not in original or dumps({k: v}) != dumps({k: original[k]})}
        max_age_set = loaded is not None and loaded.max_age != session._stored_max_age
        return _Changes(sets, original.keys() - mine.keys(), max_age_set)

    def _rebase(self, session: Session, current: Record, changes: _Changes) -> payload.Payload:
        """This request's changes applied, key by key, on top of ``current``; the
        session then holds the merged data, so a later save starts from it."""
        if self.conflicts == "overwrite":
            return self.snapshot(session)
        stored = payload.decode(current.data)
        if not changes.max_age_set:
            session._stored_max_age = stored.max_age  # e.g. "remember me" set by the other request
        merged = self.serializer.loads(stored.data)
        merged.update(changes.sets)
        for key in changes.deleted:
            merged.pop(key, None)
        session._data = merged
        return self.snapshot(session)


@dataclass(frozen=True, slots=True)
class _Changes:
    sets: dict[str, Any]
    deleted: set[str]
    max_age_set: bool
