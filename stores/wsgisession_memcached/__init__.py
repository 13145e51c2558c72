"""Session store for wsgisession on memcached, one server or several, through pymemcache.

``open_store("memcached://127.0.0.1:11211")`` or ``MemcachedStore(["h1:11211", "h2:11211"])``;
installed by ``pip install ".[memcached]"`` in a clone of wsgisession.
"""

from .store import MemcachedStore

__all__ = ["MemcachedStore"]
