"""The shared runtime starts a service's parts in order and stops them in reverse."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

import pytest

from quorum_common.grpc_server import GrpcServer
from quorum_common.service import Assembled, Hooks, Worker, run


class Journal:
    def __init__(self) -> None:
        self.entries: list[str] = []

    def part(self, name: str) -> Hooks:
        async def start() -> None:
            self.entries.append(f"start {name}")

        async def stop() -> None:
            self.entries.append(f"stop {name}")

        return Hooks(start, stop)


class FakeServer:
    """The four things the runtime asks of a GrpcServer."""

    address = "127.0.0.1:0"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def set_serving(self, serving: bool) -> None:
        self.journal.entries.append(f"serving {serving}")

    async def start(self) -> None:
        self.journal.entries.append("start server")

    async def stop(self) -> None:
        self.journal.entries.append("stop server")


class FakeDoor:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.opened = asyncio.Event()

    async def start(self) -> None:
        self.journal.entries.append("start door")
        self.opened.set()

    async def stop(self, server_stopped: Awaitable[None]) -> None:
        self.journal.entries.append("door refuses new requests")
        await server_stopped
        self.journal.entries.append("stop door")


async def test_parts_start_in_order_and_stop_in_reverse_around_the_server() -> None:
    journal = Journal()
    stop = asyncio.Event()
    ran: list[str] = []

    async def loop() -> None:
        ran.append("worker ran")
        await asyncio.Event().wait()

    async def close() -> None:
        journal.entries.append("close shared")

    door = FakeDoor(journal)
    assembled = Assembled(
        cast(GrpcServer, FakeServer(journal)),
        parts=[journal.part("relay"), Worker("loop", loop), journal.part("consumer")],
        doors=[door],
        closing=[close],
        serving=False,
    )
    running = asyncio.create_task(run("test", assembled, stop))
    await door.opened.wait()
    stop.set()
    await running

    assert journal.entries == [
        "serving False",  # before any part, so a part reporting health is not overwritten
        "start relay",
        "start consumer",
        "start server",
        "start door",
        "door refuses new requests",
        "stop server",
        "stop door",
        "stop consumer",
        "stop relay",
        "close shared",
    ]
    assert ran == ["worker ran"]


async def test_a_part_that_fails_to_start_stops_what_started_before_it() -> None:
    journal = Journal()

    async def broken() -> None:
        raise RuntimeError("no broker")

    async def nothing() -> None:
        return None

    assembled = Assembled(
        cast(GrpcServer, FakeServer(journal)),
        parts=[journal.part("relay"), Hooks(broken, nothing), journal.part("consumer")],
    )
    with pytest.raises(RuntimeError, match="no broker"):
        await run("test", assembled, asyncio.Event())
    assert journal.entries == ["serving True", "start relay", "stop relay"]
