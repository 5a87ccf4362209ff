"""Serve an ASGI app (the emulator, or the tools) over real HTTP on loopback, in-process:
on the current event loop (:func:`serve_asgi`) or on a thread of its own
(:func:`serve_asgi_in_thread`, for synchronous callers such as a CLI runner)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from starlette.types import ASGIApp


@asynccontextmanager
async def serve_asgi(
    app: ASGIApp, *, host: str = "127.0.0.1", startup_timeout: float = 10.0
) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on an ephemeral port of ``host``; yields ``http://host:port``.

    The server runs as a task of the current event loop and stops when the block exits.
    """
    sock = _listening_socket(host)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(startup_timeout):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(serving, 10)
        finally:
            sock.close()


@contextmanager
def serve_asgi_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", startup_timeout: float = 10.0
) -> Iterator[str]:
    """As :func:`serve_asgi`, with the server on a thread and event loop of its own, for a
    caller that blocks (a CLI runner, ``asyncio.run`` in the code under test); yields
    ``http://host:port``. The app's lifespan is not run."""
    sock = _listening_socket(host)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the server for {app!r} did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _listening_socket(host: str) -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio only sets TCP_NODELAY on such sockets, and without
    # it every answer sent in two writes waits for a delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock
