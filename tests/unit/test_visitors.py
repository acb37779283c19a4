"""Who asked: the owner only when the site can tell, forwarded addresses only from the stack's nginx."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from webapp.visitors import UNKNOWN, Visitor, VisitorMiddleware

SECRET = "only-nginx-knows"


def scope(client: tuple[str, int] | None, *headers: tuple[str, str]) -> Scope:
    return {
        "type": "http",
        "client": client,
        "scheme": "http",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }


def verdict(given: Scope, secret: str = SECRET) -> Visitor:
    async def app(*_: object) -> None:
        return None

    return VisitorMiddleware(app, proxy_secret=secret).visitor(given)


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_the_owner_asks_directly_from_this_machine_for_a_loopback_name(host: str) -> None:
    assert verdict(scope(("127.0.0.1", 5000), ("Host", host))) == Visitor("127.0.0.1", owner=True)


@pytest.mark.parametrize(
    "headers",
    [
        (("Host", "tunnel.example"),),  # ssh -R: bytes relayed, the public name kept
        (("Host", "localhost"), ("X-Forwarded-For", "203.0.113.7")),
        (("Host", "localhost"), ("Forwarded", "for=203.0.113.7")),
        (("Host", "localhost"), ("CF-Connecting-IP", "203.0.113.7")),
        (("Host", "localhost"), ("Via", "1.1 proxy")),
    ],
)
def test_from_this_machine_anyone_else_is_an_unknown_visitor(headers: tuple[tuple[str, str], ...]) -> None:
    assert verdict(scope(("127.0.0.1", 5000), *headers)) == Visitor(UNKNOWN, owner=False)


def test_another_address_is_itself_and_never_the_owner() -> None:
    assert verdict(scope(("192.0.2.5", 5000), ("Host", "localhost"))) == Visitor("192.0.2.5", owner=False)


def test_an_address_uvicorn_took_from_a_header_is_not_believed() -> None:
    # uvicorn's --proxy-headers (its default) wrote the claimed address, with port 0.
    given = scope(("203.0.113.7", 0), ("Host", "localhost"), ("X-Forwarded-For", "203.0.113.7"))
    assert verdict(given) == Visitor(UNKNOWN, owner=False)
    assert given["client"] is None


def test_the_stacks_nginx_is_believed_with_the_secret_alone() -> None:
    forwarded = (("X-Forwarded-For", "192.0.2.9"), ("X-Forwarded-Proto", "https"), ("X-Site-Owner", "0"))
    believed = scope(("127.0.0.1", 5000), *forwarded, ("X-Proxy-Secret", SECRET))
    assert verdict(believed) == Visitor("192.0.2.9", owner=False, through_nginx=True)
    assert believed["client"] == ("192.0.2.9", 0) and believed["scheme"] == "https"
    for secret_sent in ("guess", ""):
        claimed = scope(("127.0.0.1", 5000), *forwarded, ("X-Proxy-Secret", secret_sent))
        assert verdict(claimed) == Visitor(UNKNOWN, owner=False)
        assert claimed["scheme"] == "http"
    # Without a secret (a learner's own uvicorn) nothing forwarded is believed, an empty header included.
    assert verdict(scope(("127.0.0.1", 5000), *forwarded, ("X-Proxy-Secret", "")), secret="").address == UNKNOWN


def test_nginx_says_who_the_owner_is_and_a_relayed_stranger_is_nobody() -> None:
    through_nginx = (("X-Forwarded-For", "127.0.0.1"), ("X-Proxy-Secret", SECRET))
    owner = scope(("127.0.0.1", 5000), *through_nginx, ("X-Site-Owner", "1"))
    assert verdict(owner) == Visitor("127.0.0.1", owner=True, through_nginx=True)
    relayed = scope(("127.0.0.1", 5000), *through_nginx, ("X-Site-Owner", "0"))
    assert verdict(relayed) == Visitor(UNKNOWN, owner=False, through_nginx=True)
