"""Who a request came from: an address to show, and whether two requests came from the same visitor.

A visitor is an IP address: the one uvicorn saw, or behind the stack's nginx the
one nginx passed on in X-Forwarded-For, believed only with the secret the stack
gave the workers (any local program can send X-Forwarded-For). On a server, each
visitor sees their own requests in full.

The owner of the site (the learner at this machine) is only the requester the
site can tell is them: a direct request from 127.0.0.1 or ::1, with no forwarding
header, for a loopback host name. Everything else from 127.0.0.1 may be a
forwarder on this machine (ssh -R, cloudflared, ngrok, a second proxy) relaying
strangers: they are not the owner, and since their address is not theirs, they
are told apart from nobody (an unknown visitor, shown nothing that is not theirs).
"""

from __future__ import annotations

import secrets
from typing import NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send

PROXY_SECRET_HEADER = "x-proxy-secret"
OWNER_HEADER = "x-site-owner"  # nginx's verdict: "1" for the owner (see site.conf.j2)
# Headers a forwarder adds to say whom it relays; any of them means "not a direct request".
FORWARDING_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-real-ip",
        b"via",
        b"cf-connecting-ip",
        b"true-client-ip",
        b"x-client-ip",
    }
)
OWNER_ADDRESSES = frozenset({"127.0.0.1", "::1"})
OWNER_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
SCOPE_KEY = "webapp.visitor"  # where VisitorMiddleware leaves its verdict for the request
UNKNOWN = ""  # a visitor whose address the site cannot tell: same as nobody


class Visitor(NamedTuple):  # made for every request: a tuple is the cheapest to make
    address: str  # who they are for "your own requests" and the post limit; UNKNOWN if the site cannot tell
    owner: bool  # the person at this machine, asking directly
    through_nginx: bool = False  # passed on by the stack's nginx (it sent the secret)


def format_address(host: str, port: int | None) -> str:
    """Given a host and port, return them as written in a URL: 127.0.0.1:5000, [::1]:5000, or the host alone."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def visitor_of(scope: Scope) -> str:
    """The visitor's address as the site knows them, or "" when it cannot tell."""
    visitor = scope.get(SCOPE_KEY)
    if isinstance(visitor, Visitor):
        return visitor.address
    client = scope.get("client")
    return client[0] if client else UNKNOWN


def is_owner(scope: Scope) -> bool:
    visitor = scope.get(SCOPE_KEY)
    return isinstance(visitor, Visitor) and visitor.owner


def came_through_nginx(scope: Scope) -> bool:
    """Whether the stack's nginx passed this request on: only it knows the secret the stack gave the workers.
    (X-Forwarded-For alone proves nothing: any client can send it.)"""
    visitor = scope.get(SCOPE_KEY)
    return isinstance(visitor, Visitor) and visitor.through_nginx


def same_visitor(viewer: str, other: str) -> bool:
    return bool(viewer) and viewer == other


def host_name(value: str) -> str:
    """The name part of a Host header, lower case: `127.0.0.1:8000` → `127.0.0.1`, `[::1]:80` → `[::1]`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def known(address: str, *, owner: bool, through_nginx: bool = False) -> Visitor:
    """From this machine's own address, anyone but the owner was relayed by a forwarder here: that
    address is everyone's it relays, so it tells no one apart."""
    if address in OWNER_ADDRESSES and not owner:
        return Visitor(UNKNOWN, owner=False, through_nginx=through_nginx)
    return Visitor(address, owner=owner, through_nginx=through_nginx)


class VisitorMiddleware:
    """Decide who sent each request, once, before anything else reads scope["client"] or the scheme.

    uvicorn's own --proxy-headers believes X-Forwarded-For from any program on this
    machine; the stack starts its workers without it, and this believes the
    forwarded address and scheme only with the stack's secret. A request that
    carries a forwarding header without the secret is from an unknown visitor.
    """

    def __init__(self, app: ASGIApp, *, proxy_secret: str) -> None:
        self.app = app
        self.proxy_secret = proxy_secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[SCOPE_KEY] = self.visitor(scope)
        await self.app(scope, receive, send)

    def visitor(self, scope: Scope) -> Visitor:
        headers: dict[bytes, bytes] = dict(scope["headers"])
        if self.from_the_stacks_nginx(headers):
            address = headers.get(b"x-forwarded-for", b"").decode("latin-1").strip()
            scope["client"] = (address, 0) if address else None
            if headers.get(b"x-forwarded-proto") in (b"http", b"https"):
                scope["scheme"] = headers[b"x-forwarded-proto"].decode()
            return known(address, owner=headers.get(OWNER_HEADER.encode()) == b"1", through_nginx=True)
        client = scope.get("client")
        if not FORWARDING_HEADERS.isdisjoint(headers):
            if client and client[1] == 0:
                # uvicorn's --proxy-headers (on by default) already replaced the address with the
                # header's claim (it writes port 0): the address that connected is lost.
                scope["client"] = None
            return Visitor(UNKNOWN, owner=False)
        address = client[0] if client else UNKNOWN
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        return known(address, owner=address in OWNER_ADDRESSES and host in OWNER_HOSTS)

    def from_the_stacks_nginx(self, headers: dict[bytes, bytes]) -> bool:
        sent = headers.get(PROXY_SECRET_HEADER.encode(), b"")
        return bool(self.proxy_secret) and secrets.compare_digest(sent, self.proxy_secret)
