"""The anchors: what users would pick instead, on the same store and scenario.

Each anchor module offers ``targets(store, backend, workdir)`` yielding
``(name, Target | reason)``; an anchor that is not installed, or does not support a
store, yields a reason instead of a target.
"""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .wsgi import Target

AnchorResult = tuple[str, Target | str]
_shutdowns: list[Callable[[], object]] = []


def framework_floors() -> list[AnchorResult]:
    """The bare Flask and bare Django apps that Flask-Session and Django are measured beside."""
    found: list[AnchorResult] = []
    for module_name, floor_name in (("anchor_flask", "flask-bare"), ("anchor_django", "django-bare")):
        try:
            module = _load(module_name)
            found.append((floor_name, module.bare()))
        except ImportError as exc:
            found.append((floor_name, f"not installed ({exc.name}): pip install 'wsgisession[bench]'"))
    return found


def anchors_for(store: str, backend: Any, workdir: str) -> Iterator[AnchorResult]:
    """Every anchor target for ``store``."""
    for module_name, label in (
        ("anchor_beaker", "beaker"),
        ("anchor_flask", "flask-session"),
        ("anchor_django", "django"),
    ):
        try:
            module = _load(module_name)
        except ImportError as exc:
            yield label, f"not installed ({exc.name}): pip install 'wsgisession[bench]'"
            continue
        try:
            yield from module.targets(store, backend, workdir)
        except Exception as exc:
            yield label, f"could not be set up: {type(exc).__name__}: {exc}"


def on_shutdown(callback: Callable[[], object]) -> None:
    """Run ``callback`` when the run ends (dropping an anchor's tables and keys)."""
    _shutdowns.append(callback)


def shutdown() -> None:
    """Run the registered clean-ups, last first."""
    while _shutdowns:
        callback = _shutdowns.pop()
        try:
            callback()
        except Exception as exc:
            print(f"clean-up failed: {type(exc).__name__}: {exc}")


def _load(name: str) -> Any:
    import importlib

    return importlib.import_module(f"{__package__}.{name}")
