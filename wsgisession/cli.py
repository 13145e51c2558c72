"""The ``wsgisession`` command: ``demo``, ``secret``, ``prune``, ``stats`` and ``schema``."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import secrets
import socketserver
import sys
from collections.abc import Sequence
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .demo import demo_app
from .memory import MemoryStore
from .middleware import SessionMiddleware
from .store import Countable, Prunable, SessionStore, StoreError, open_store

__all__ = ["main"]

DEFAULT_DEMO_STORE = "sqlite:///wsgisession-demo.db"


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """The standard library's WSGI server, one thread per connection."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (StoreError, ValueError, ImportError) as exc:
        print(f"wsgisession: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsgisession", description="Server-side sessions for WSGI.")
    commands = parser.add_subparsers(required=True, metavar="command")

    demo = commands.add_parser("demo", help="serve the demo app")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--store", default=DEFAULT_DEMO_STORE, help=f"store URL [{DEFAULT_DEMO_STORE}]")
    demo.add_argument("--secret", default=os.environ.get("WSGISESSION_SECRET"), help="[$WSGISESSION_SECRET]")
    demo.set_defaults(run=_demo)

    secret = commands.add_parser("secret", help="print a new random secret")
    secret.set_defaults(run=_secret)

    for name, run, text in (
        ("prune", _prune, "delete expired sessions"),
        ("stats", _stats, "count live sessions"),
        ("schema", _schema, "print the DDL a database store needs"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", required=True, help="store URL")
        command.set_defaults(run=run)
    return parser


def _secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return 0


def _demo(args: argparse.Namespace) -> int:
    secret = args.secret or _demo_secret(args.store)
    app = SessionMiddleware(demo_app, secret=secret, store=args.store)
    with make_server(args.host, args.port, app, ThreadingWSGIServer, _QuietHandler) as server:
        print(f"wsgisession demo on http://{args.host}:{server.server_port}/ (store: {args.store})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    app.store.close()
    return 0


def _demo_secret(store_url: str) -> str:
    """A secret kept beside a SQLite demo database, so restarts keep sessions valid."""
    if store_url.startswith("sqlite:///"):
        path = store_url[len("sqlite:///") :].split("?", 1)[0] + ".secret"
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        with open(path) as handle:
            return handle.read().strip()
    return secrets.token_urlsafe(48)


def _open(args: argparse.Namespace) -> SessionStore:
    store = open_store(args.store)
    if isinstance(store, MemoryStore):
        raise ValueError("memory:// sessions live inside the server's own process; this command cannot see them")
    return store


def _prune(args: argparse.Namespace) -> int:
    store = _open(args)
    if not isinstance(store, Prunable):
        print(f"wsgisession: {args.store.split('://')[0]}:// stores expire sessions themselves; nothing to prune")
        return 0
    if "progress" in inspect.signature(store.prune).parameters:
        # Stores that prune in batches report as they go: a big table takes a while.
        removed = store.prune(progress=lambda done: print(f"removed {done} so far...", flush=True))  # type: ignore[call-arg]
    else:
        removed = store.prune()
    print(f"removed {removed} expired session(s)")
    store.close()
    return 0


def _stats(args: argparse.Namespace) -> int:
    store = _open(args)
    if not isinstance(store, Countable):
        print(f"wsgisession: {args.store.split('://')[0]}:// stores cannot count their sessions", file=sys.stderr)
        return 2
    print(f"live sessions: {store.count()}")
    store.close()
    return 0


def _schema(args: argparse.Namespace) -> int:
    store = _open(args)
    schema = getattr(store, "schema_sql", None)
    if schema is None:
        print(f"wsgisession: {args.store.split('://')[0]}:// stores need no schema", file=sys.stderr)
        return 2
    print(schema())
    return 0
