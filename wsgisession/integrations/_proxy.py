"""SessionProxy: the mapping part shared by the framework adapters. Private to the integrations."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ..session import Session


class SessionProxy(MutableMapping[str, Any]):
    """A mutable mapping that forwards to a wsgisession :class:`Session`, kept as
    :attr:`wsgisession` for what a framework's API has no word for (``regenerate()``,
    ``max_age``). Subclasses add the framework's vocabulary."""

    def __init__(self, session: Session) -> None:
        self.wsgisession = session

    def __getitem__(self, key: str) -> Any:
        return self.wsgisession[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.wsgisession[key] = value

    def __delitem__(self, key: str) -> None:
        del self.wsgisession[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.wsgisession)

    def __len__(self) -> int:
        return len(self.wsgisession)

    def __contains__(self, key: object) -> bool:
        return key in self.wsgisession

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        return self.wsgisession.get(key, default)

    def clear(self) -> None:
        """Remove every key (an emptied session is deleted when the response starts)."""
        self.wsgisession.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.wsgisession!r}>"
