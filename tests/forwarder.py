"""A real forwarder on this machine, as an instructor's tunnel is: it listens on another loopback
address and relays each connection to the site from 127.0.0.1.

Like `ssh -R` it relays bytes alone; like cloudflared or ngrok it can also name the visitor in a
header it adds to each request (one request per connection: the tests send `Connection: close`).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RELAY_SECONDS = 10  # a relayed connection that is silent this long is closed


@contextmanager
def forwarder(listen: str, target_port: int, *, header: str = "") -> Iterator[int]:
    """Relay connections to `listen` (127.0.0.x), port chosen here and yielded, to 127.0.0.1:target_port.
    With `header`, add `header: <the visitor's address>` to each request's head."""
    server = socket.socket()
    server.bind((listen, 0))
    server.listen(64)
    server.settimeout(0.2)
    stopping = threading.Event()
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not stopping.is_set():
            try:
                visitor, (address, _port) = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=_relay, args=(visitor, address, target_port, header), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server.getsockname()[1]
    finally:
        stopping.set()
        acceptor.join(timeout=2)
        server.close()
        for thread in threads:
            thread.join(timeout=RELAY_SECONDS)


def _relay(visitor: socket.socket, address: str, target_port: int, header: str) -> None:
    with visitor, socket.create_connection(("127.0.0.1", target_port), timeout=RELAY_SECONDS) as site:
        visitor.settimeout(RELAY_SECONDS)
        if header:
            head = b""
            while b"\r\n\r\n" not in head and (chunk := visitor.recv(65536)):
                head += chunk
            # Last, as proxies add theirs: after any the visitor sent, which are not to be believed.
            fields, _, body = head.partition(b"\r\n\r\n")
            site.sendall(fields + f"\r\n{header}: {address}\r\n\r\n".encode() + body)
        with selectors.DefaultSelector() as selector:
            selector.register(visitor, selectors.EVENT_READ, site)
            selector.register(site, selectors.EVENT_READ, visitor)
            while events := selector.select(timeout=RELAY_SECONDS):
                for key, _mask in events:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    with contextlib.suppress(OSError):
                        data = source.recv(65536)
                        if data:
                            key.data.sendall(data)
                            continue
                    return  # one side closed (or failed): so does the relay
