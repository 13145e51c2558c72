"""Importing wsgisession, or its integrations package, imports no web framework."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("django", "flask", "werkzeug", "pyramid", "bottle", "zope")

PROBE = f"""
import sys
import wsgisession, wsgisession.integrations, wsgisession.integrations._settings
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})
print(",".join(loaded))
"""


def test_no_framework_is_imported_until_its_integration_is() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=30)
    assert result.stdout.strip() == ""
