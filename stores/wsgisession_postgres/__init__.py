"""PostgreSQL session store for wsgisession, on psycopg 3 and psycopg_pool.

``open_store("postgresql://user@host:5432/dbname?table=sessions")`` builds a
:class:`PostgresStore`; install it with ``pip install ".[postgres]"`` in a clone of wsgisession.
"""

from .store import PostgresStore

__all__ = ["PostgresStore"]
