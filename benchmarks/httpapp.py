"""The app gunicorn serves in the HTTP run: ``BENCH_STORE`` is a store URL, or ``none``
for the same app without sessions."""

from __future__ import annotations

import os
from typing import Any

from .wsgi import SECRET, bare_app, ours_app

_url = os.environ.get("BENCH_STORE", "none")
app: Any
if _url == "none":
    app = bare_app
else:
    from wsgisession import SessionMiddleware

    app = SessionMiddleware(ours_app, secret=SECRET, store=_url)
