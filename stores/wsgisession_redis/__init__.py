"""Redis session store for wsgisession: ``redis://``, ``rediss://``, ``unix://`` and
``redis+cluster://`` URLs, on redis-py. Install with ``pip install ".[redis]"`` in a clone of wsgisession.
"""

from .store import DEFAULT_PREFIX, RedisStore

__all__ = ["DEFAULT_PREFIX", "RedisStore"]
