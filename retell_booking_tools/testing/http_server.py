"""Serve an ASGI app (the emulator, or the tools) over real HTTP on loopback, in-process:
on the current event loop (:func:`serve_asgi`) or on a thread of its own
(:func:`serve_asgi_in_thread`, for synchronous callers such as a CLI runner)."""

from __future__ import annotations

import asyncio
import contextlib
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
    server = _PromptServer(uvicorn.Config(app, log_level="critical", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(startup_timeout):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.stop()
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
    server = _PromptServer(uvicorn.Config(app, log_level="critical", lifespan="off"))
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
        server.stop()
        thread.join(10)
        sock.close()


class _PromptServer(uvicorn.Server):
    """A uvicorn server that stops as soon as it is asked to, from any thread.

    uvicorn looks at ``should_exit`` once every 0.1 s, and its shutdown sleeps 0.1 s more
    before it waits for the connections: a suite that starts and stops a server per test
    would spend most of such a test waiting. This one wakes when :meth:`stop` is called and
    then waits only as long as its connections and tasks need.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Ask the server to stop; safe from any thread."""
        self.should_exit = True
        if self._loop is not None:
            # A loop already closed has stopped serving; nothing is left to wake.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not await self.on_tick(0):  # what uvicorn's loop does first (the Date header)
            await self._stopping.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                # uvicorn's state sets no event when its last connection closes.
                while self.server_state.connections or self.server_state.tasks:  # noqa: ASYNC110
                    await asyncio.sleep(_STOP_POLL_SECONDS)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


_STOP_POLL_SECONDS = 0.002
"""How often a stopping server looks whether its last connection has closed."""


def _listening_socket(host: str) -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio only sets TCP_NODELAY on such sockets, and without
    # it every answer sent in two writes waits for a delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock
