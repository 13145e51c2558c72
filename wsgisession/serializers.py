"""Turning a session's dict into bytes and back.

JSON is the default and pickle is never used, so that whoever can write to the
store cannot make the application run code. Types a web app commonly keeps in a
session that JSON lacks are written as tagged objects: ``{"__t": "uuid", "v": "..."}``.
A user dict that happens to hold the key ``"__t"`` is tagged too, so nothing the app
stores can be mistaken for a tag.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["JSONSerializer", "SerializationError", "Serializer"]

_TAG = "__t"


class SerializationError(TypeError):
    """A session value cannot be stored; the message names the session key."""


class Serializer(Protocol):
    """Turns a session's top-level dict into bytes and back.

    ``dumps`` raises :class:`SerializationError` naming the offending key; ``loads``
    raises :class:`ValueError` (or a subclass) for bytes it cannot read.
    """

    def dumps(self, data: dict[str, Any]) -> bytes:
        """Encode the session dict."""

    def loads(self, raw: bytes) -> dict[str, Any]:
        """Decode bytes made by ``dumps``."""


def _encode_dict(value: dict[Any, Any]) -> Any:
    if any(type(k) is not str for k in value):
        raise TypeError("dict keys must be strings")
    items = {k: _encode(v) for k, v in value.items()}
    if _TAG in items:
        return {_TAG: "dict", "v": [[k, v] for k, v in items.items()]}
    return items


def _encode_datetime(value: datetime.datetime) -> Any:
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo) and value.tzinfo.key:
        # A named zone keeps its name (an offset would lose daylight-saving rules): the
        # wall time, the zone and the fold rebuild exactly the same datetime.
        naive = value.replace(tzinfo=None, fold=0).isoformat()
        return {_TAG: "datetime", "v": naive, "tz": value.tzinfo.key, "fold": value.fold}
    return {_TAG: "datetime", "v": value.isoformat()}


def _decode_datetime(obj: dict[str, Any]) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(obj["v"])
    if "tz" in obj:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(obj["tz"]), fold=obj.get("fold", 0))
    return value


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    dict: _encode_dict,
    list: lambda v: [_encode(x) for x in v],
    tuple: lambda v: {_TAG: "tuple", "v": [_encode(x) for x in v]},
    datetime.datetime: _encode_datetime,
    datetime.date: lambda v: {_TAG: "date", "v": v.isoformat()},
    uuid.UUID: lambda v: {_TAG: "uuid", "v": str(v)},
    bytes: lambda v: {_TAG: "bytes", "v": base64.b64encode(v).decode("ascii")},
    decimal.Decimal: lambda v: {_TAG: "decimal", "v": str(v)},
}

_WHOLE_OBJECT = {"datetime"}  # decoders that read more of the tagged object than "v"
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "dict": lambda v: {k: x for k, x in v},
    "tuple": tuple,
    "datetime": _decode_datetime,
    "date": datetime.date.fromisoformat,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
    "decimal": decimal.Decimal,
}

_PLAIN = (str, int, float, bool, type(None))


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    encoder = _ENCODERS.get(kind)
    if encoder is not None:
        return encoder(value)
    return _encode_subclass(value)


def _encode_subclass(value: Any) -> Any:
    # An OrderedDict, an IntEnum or a str subclass is stored as its base type.
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    for base, encoder in _ENCODERS.items():
        if isinstance(value, base):
            return encoder(value)
    kind = type(value)
    raise TypeError(f"{kind.__module__}.{kind.__qualname__} is not a type the JSON serializer can store")


def _decode_object(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if tag is None:
        return obj
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ValueError(f"unknown tag {tag!r} in stored session")
    try:
        return decoder(obj if tag in _WHOLE_OBJECT else obj["v"])
    except (TypeError, KeyError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"malformed {tag!r} value in stored session: {exc!r}") from None


def _encodes(encoder: json.JSONEncoder, value: Any) -> bool:
    try:
        encoder.encode(value)
    except ValueError:
        return False
    return True


class JSONSerializer:
    """The default serializer: compact UTF-8 JSON with tags for datetime, date, UUID,
    bytes, tuple and Decimal (and for dicts holding the reserved key ``"__t"``).

    Subclasses of the tagged types are stored as the base type; anything else is a
    :class:`SerializationError` naming the session key that holds it.
    """

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        self._decoder = json.JSONDecoder(object_hook=_decode_object)

    def dumps(self, data: dict[str, Any]) -> bytes:
        """Encode ``data``; raise :class:`SerializationError` naming the bad key."""
        encoded: dict[str, Any] = {}
        for key, value in data.items():
            try:
                encoded[key] = _encode(value)
            except (TypeError, RecursionError) as exc:
                raise SerializationError(f"session[{key!r}] cannot be stored: {exc}") from None
        if _TAG in encoded:  # the session dict itself must not look like a tag
            encoded = {_TAG: "dict", "v": [[k, v] for k, v in encoded.items()]}
        try:
            return self._encoder.encode(encoded).encode("utf-8")
        except ValueError as exc:  # NaN or infinity: not JSON, and not faithful elsewhere
            key = next(k for k, v in encoded.items() if not _encodes(self._encoder, v))
            raise SerializationError(f"session[{key!r}] cannot be stored: {exc}") from None

    def loads(self, raw: bytes) -> dict[str, Any]:
        """Decode bytes written by :meth:`dumps`."""
        data = self._decoder.decode(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("stored session is not a JSON object")
        return data
