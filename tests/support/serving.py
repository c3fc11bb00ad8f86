"""A service's own `serve(settings, stop)` in the test's event loop, wired as in production."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support.waiting import POLL_SECONDS

Serve = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def wait_serving(channel: grpc.aio.Channel, task: asyncio.Task[None], name: str) -> None:
    """Until the service answers SERVING; what stopped it, if it stopped while starting."""
    deadline = time.monotonic() + 60
    stub = health_pb2_grpc.HealthStub(channel)
    while True:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"{name} stopped during start")
        with contextlib.suppress(grpc.aio.AioRpcError):
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if answer.status == health_pb2.HealthCheckResponse.SERVING:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not SERVING after 60s")
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def serving(
    name: str, serve: Serve, port: int, stop_within: float = 30
) -> AsyncIterator[grpc.aio.Channel]:
    """`serve(stop)` running until the block ends, and a channel to it once SERVING; the
    service must then stop cleanly (within `stop_within` seconds, without an error)."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(stop), name=name)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await wait_serving(channel, task, name)
            yield channel
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=stop_within)
