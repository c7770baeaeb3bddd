"""The ceiling for bench_redirect.py: an ASGI app that answers every request with a 302 and nothing else."""
from __future__ import annotations

_HEADERS = [(b"location", b"https://example.com/landing"), (b"content-length", b"0")]


async def lifespan(receive, send) -> None:
    """Answer the server's startup and shutdown messages (shared with floor_asgi.py)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 302, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b""})
