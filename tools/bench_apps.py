"""The apps the benchmark measures the site against. Not part of the site.

- `bare_app`: a framework-free ASGI app answering /ping, the most a Python app on
  uvicorn can do on this machine.
- `ping_without_middleware`: the site's own /ping handler in a FastAPI app without
  the site's middleware, to measure what that middleware costs (uvicorn --factory).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

PONG = b'{"message":"pong"}'
PONG_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(PONG)).encode())]


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": PONG_HEADERS})
    await send({"type": "http.response.body", "body": PONG})


def ping_without_middleware() -> FastAPI:
    # Imported here, in the uvicorn process that serves this app: importing
    # webapp.main builds the whole site, which the benchmark itself never needs.
    from webapp.main import lesson

    app = FastAPI()
    app.include_router(lesson)
    return app
