"""The apps the benchmark measures the site against. Not part of the site.

- `bare_app`: a framework-free ASGI app answering /ping, the most a Python app on
  uvicorn can do on this machine.
- `bare_fastapi`: the lesson's /ping (the site's own handler) on a FastAPI app with
  nothing else: no middleware, no other routes (uvicorn --factory). The site's
  /ping is measured against it.
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


def bare_fastapi() -> FastAPI:
    # Imported here, in the uvicorn process that serves this app: importing
    # webapp.main builds the whole site, which the benchmark itself never needs.
    from webapp.main import lesson

    app = FastAPI()
    app.include_router(lesson)
    return app
