"""Cookie signing, reading and proxy trust."""

from __future__ import annotations

from webob.cookies import parse_cookie  # type: ignore[attr-defined]

from wsgisession.cookies import KeyRing, is_https, read_cookies
from wsgisession.ids import generate_id, store_key, valid_id

ring = KeyRing([b"first-secret", b"second-secret"])


def test_sign_and_unsign() -> None:
    sid = generate_id()
    assert len(sid) == 43 and valid_id(sid)
    value = ring.sign(sid)
    assert ring.unsign(value) == sid
    assert ring.signed_by(value) == 0


def test_any_secret_of_the_ring_verifies() -> None:
    sid = generate_id()
    old_value = KeyRing([b"second-secret"]).sign(sid)
    assert ring.unsign(old_value) == sid and ring.signed_by(old_value) == 1
    assert KeyRing([b"other"]).unsign(old_value) is None


def test_tampering_is_refused() -> None:
    sid = generate_id()
    value = ring.sign(sid)
    other = generate_id()
    assert ring.unsign(other + value[len(sid) :]) is None
    assert ring.unsign(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert ring.unsign(value[:-1]) is None
    assert ring.unsign(sid) is None


def test_signing_key_is_derived_not_the_secret() -> None:
    assert KeyRing.derive(b"first-secret") != b"first-secret"


def test_store_key_hides_the_id() -> None:
    sid = generate_id()
    assert sid not in store_key(sid) and len(store_key(sid)) == 64


def test_read_cookies_keeps_every_value_in_order() -> None:
    environ = {"HTTP_COOKIE": "a=1; session=first; b=2; session=second"}
    assert read_cookies(environ, "session") == ["first", "second"]
    assert read_cookies({}, "session") == []
    assert read_cookies({"HTTP_COOKIE": "session=" + "x" * 5000}, "session") == []


def test_https_detection() -> None:
    assert is_https({"wsgi.url_scheme": "https"}, trust_proxy=False)
    forwarded = {"wsgi.url_scheme": "http", "HTTP_X_FORWARDED_PROTO": "https"}
    assert not is_https(forwarded, trust_proxy=False)
    assert is_https(forwarded, trust_proxy=True)
    # The last hop is ours; whatever the client claimed before it is not trusted.
    spoofed = {"wsgi.url_scheme": "http", "HTTP_X_FORWARDED_PROTO": "https, http"}
    assert not is_https(spoofed, trust_proxy=True)


def test_fast_path_agrees_with_webob() -> None:
    headers = [
        "session=abc.def",
        "a=1; session=abc.def; b=2",
        "xsession=nope; session=abc.def",
        "session=abc.def;",
        "mysession=abc.def",
        'session="quoted"',
        "session=a b",
        "session=abc.def; session=ghi.jkl",
        "session=",
    ]
    for header in headers:
        fast = read_cookies({"HTTP_COOKIE": header}, "session")
        slow = [v.decode() for k, v in parse_cookie(header) if k == b"session"]
        assert fast == slow, header


def test_remembered_answers_never_change_what_is_signed_or_accepted() -> None:
    rotated = KeyRing([b"new", b"old"])
    sid = generate_id()
    old_value = KeyRing([b"old"]).sign(sid)
    assert rotated.unsign(old_value) == sid
    assert rotated.signed_by(rotated.sign(sid)) == 0  # re-signed with the first secret
    forged = sid + "." + "A" * 43
    assert rotated.unsign(forged) is None and rotated.unsign(forged) is None


def test_a_cookie_with_another_name_is_never_the_session() -> None:
    value = ring.sign(generate_id())
    for header in ("session" + value, "XXXXXXX" + value + "; mysessionpref=1", "session_old=" + value):
        assert read_cookies({"HTTP_COOKIE": header}, "session") == [], header
