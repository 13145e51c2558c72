"""The JSON serializer: faithful round trips, and errors that name the key."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgisession.serializers import JSONSerializer, SerializationError

serializer = JSONSerializer()

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary()
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.decimals(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5) | st.just("__t"), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=5))
def test_round_trip_is_faithful(data: dict[str, Any]) -> None:
    assert serializer.loads(serializer.dumps(data)) == data


def test_types_survive_with_their_type() -> None:
    data = {
        "when": datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 12, 3),
        "id": uuid.UUID(int=7),
        "raw": b"\x00\xff",
        "pair": (1, "two"),
        "price": decimal.Decimal("9.90"),
        "tag-like": {"__t": "uuid", "v": "not a uuid"},
    }
    loaded = serializer.loads(serializer.dumps(data))
    assert loaded == data
    assert {k: type(v) for k, v in loaded.items()} == {k: type(v) for k, v in data.items()}


@pytest.mark.parametrize("value", [object(), {1, 2}, {1: "int key"}, float("nan"), [lambda: 0]])
def test_unstorable_value_names_the_key(value: Any) -> None:
    with pytest.raises(SerializationError, match="cart"):
        serializer.dumps({"fine": 1, "cart": value})


def test_garbage_is_a_value_error() -> None:
    for raw in (b"\xff\xfe", b"[1, 2]", b'{"__t": "nope", "v": 1}', b"{"):
        with pytest.raises(ValueError):
            serializer.loads(raw)


@given(st.datetimes(timezones=st.timezones()))
def test_named_time_zones_survive(value: datetime.datetime) -> None:
    loaded = serializer.loads(serializer.dumps({"when": value}))["when"]
    assert (loaded, loaded.tzinfo, loaded.fold) == (value, value.tzinfo, value.fold)
    day = datetime.timedelta(days=1)
    assert (loaded + day).utcoffset() == (value + day).utcoffset()


def test_a_session_key_named_like_the_tag_round_trips() -> None:
    for data in ({"__t": "tuple", "v": 5}, {"__t": "note"}, {"__t": "uuid", "v": "not a uuid"}):
        assert serializer.loads(serializer.dumps(data)) == data


def test_malformed_tagged_values_are_value_errors() -> None:
    for raw in (b'{"a": {"__t": "tuple", "v": 5}}', b'{"a": {"__t": "uuid"}}', b'{"a": {"__t": "decimal", "v": "x"}}'):
        with pytest.raises(ValueError, match="malformed"):
            serializer.loads(raw)
