"""Server-side sessions for any WSGI application.

::

    from wsgisession import SessionMiddleware, open_store

    app = SessionMiddleware(app, secret="...", store=open_store("sqlite:///sessions.db"))
    # in the app: session = environ["wsgisession"]; session["user"] = "ada"
"""

from .engine import ConflictStats, SessionConflictError
from .memory import MemoryStore
from .middleware import SessionMiddleware, session_of
from .serializers import JSONSerializer, SerializationError, Serializer
from .session import Session
from .sqlite import SQLiteStore
from .store import (
    Clearable,
    Countable,
    Prunable,
    Record,
    SessionStore,
    StoreError,
    StoreUnavailable,
    VersionConflict,
    open_store,
    register_store,
)

__all__ = [
    "Clearable",
    "ConflictStats",
    "Countable",
    "JSONSerializer",
    "MemoryStore",
    "Prunable",
    "Record",
    "SQLiteStore",
    "SerializationError",
    "Serializer",
    "Session",
    "SessionConflictError",
    "SessionMiddleware",
    "SessionStore",
    "StoreError",
    "StoreUnavailable",
    "VersionConflict",
    "open_store",
    "register_store",
    "session_of",
]
