"""The opt-in background pruner: a daemon thread that deletes expired sessions.

For deployments that run no cron job. Each worker process of a pre-forking server
runs its own; they do not get in each other's way, because pruning skips rows that
another transaction holds.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable

__all__ = ["BackgroundPruner"]

logger = logging.getLogger("wsgisession.postgres")


class BackgroundPruner:
    """Calls ``prune`` about every ``interval`` seconds in a daemon thread.

    :meth:`start` is idempotent and restarts the thread in a forked child (threads do
    not survive ``fork()``); :meth:`stop` ends it and waits for a prune in progress.
    """

    def __init__(self, prune: Callable[[], int], interval: float, name: str) -> None:
        self.interval = interval
        self._prune = prune
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def start(self) -> None:
        """Start the thread unless it is already running in this process."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (if any) and wait up to ``timeout`` seconds for it."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        # The first run is spread over one interval so that the workers of a
        # pre-forking server, started together, do not all prune together.
        delay = self.interval * random.uniform(0.5, 1.0)
        while not stop.wait(delay):
            try:
                removed = self._prune()
            except Exception:
                # The thread must outlive an outage; the next run tries again.
                logger.warning("background prune of %s failed", self._name, exc_info=True)
            else:
                logger.debug("background prune of %s removed %d expired sessions", self._name, removed)
            delay = self.interval
