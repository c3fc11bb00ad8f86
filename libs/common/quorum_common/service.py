"""One service process, declared: what it is made of, started in order, stopped in reverse.

Every service runs the same way: connect to MongoDB, make sure its topics exist,
assemble its parts (stores, consumer, workers, servicers), start the parts, then the
gRPC server (and any door in front of it), serve until asked to stop, then stop in the
reverse order — the server first, so no call arrives at a part already stopped; the
consumer before the workers, so the relay is still there for what it committed; what
the parts share (producers, HTTP clients) last. A service's `__main__.py` declares its
topics and its assembly; this module does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from quorum_common import tls
from quorum_common.consumer import EventConsumer
from quorum_common.events import Topics
from quorum_common.grpc_server import GrpcServer
from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.mongo import Document, connect
from quorum_common.outbox import Outbox
from quorum_common.processed import Handler
from quorum_common.runtime import run_service
from quorum_common.settings import ServiceSettings, group_instance_id

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


class Part(Protocol):
    """Something a service starts before it serves and stops after (a consumer, say)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Door(Protocol):
    """A front door to the gRPC server (the gateway's HTTP/JSON API): it stops taking
    requests first, then lets the server end its calls (and so the door's own)."""

    async def start(self) -> None: ...

    async def stop(self, server_stopped: Awaitable[None]) -> None: ...


@dataclass
class Worker:
    """A background loop (relay, re-evaluation, fan-out …): a task from start to stop."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]
    # What to do once the loop is cancelled (let its attempts in flight finish, say).
    after: Callable[[], Awaitable[None]] | None = None
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.after is not None:
            await self.after()


@dataclass
class Hooks:
    """A part made of two calls, for what has its own start and close (an HTTP client)."""

    on_start: Callable[[], Awaitable[None]]
    on_stop: Callable[[], Awaitable[None]]

    async def start(self) -> None:
        await self.on_start()

    async def stop(self) -> None:
        await self.on_stop()


@dataclass
class Assembled:
    """A service's parts, ready to start."""

    server: GrpcServer
    # Started in this order before the server, stopped in reverse after it.
    parts: list[Part] = field(default_factory=list)
    doors: list[Door] = field(default_factory=list)
    # Closed last, after every part (producers that several parts use).
    closing: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # Health at start: the gateway reports NOT_SERVING until its backends answer.
    serving: bool = True
    # Said in the log line once serving (where e-mail goes, say).
    describe: str = ""


@dataclass(frozen=True)
class Setup(Generic[S]):
    """What every service's assembly starts from: its settings and topics, the MongoDB
    client and the service's own database, and where its gRPC server listens."""

    name: str
    settings: S
    topics: Topics
    client: AsyncMongoClient[Document]
    database: AsyncDatabase[Document]
    host: str
    port: int

    def outbox(self, topic: str) -> Outbox:
        """The service's outbox, publishing to its own topic."""
        retention = timedelta(seconds=self.settings.outbox_retention_seconds)
        return Outbox(self.database, topic, retention)

    def internal_server(self, service_names: list[str]) -> GrpcServer:
        """An internal API's server: the gateway's (and only the gateway's) way in."""
        return GrpcServer(
            self.host,
            self.port,
            service_names,
            max_connection_age_seconds=self.settings.grpc_max_connection_age_seconds,
            credentials=tls.internal_server(self.settings),
        )

    def consuming(self, sources: list[str], handle: Handler, **options: Any) -> Part:
        """The service's consumer group member, with its dead-letter producer, paced and
        identified by the settings every service shares; `options` as EventConsumer's."""
        bootstrap_servers = self.settings.kafka_bootstrap_servers
        dead_letters = RelayProducer(bootstrap_servers, f"{self.name}-dead-letters")
        consumer = EventConsumer(
            name=self.name,
            bootstrap_servers=bootstrap_servers,
            dead_letters=dead_letters,
            client=self.client,
            database=self.database,
            topics=self.topics,
            sources=sources,
            handle=handle,
            idle_pause_max_ms=self.settings.kafka_idle_pause_max_ms,
            linger_ms=self.settings.kafka_consumer_linger_ms,
            group_instance_id=group_instance_id(self.settings, self.port),
            **options,
        )

        async def stop() -> None:
            await consumer.stop()
            await dead_letters.stop()

        return Hooks(consumer.start, stop)

    def relaying(self, outbox: Outbox) -> Worker:
        """The outbox relay's loop, publishing with a producer of its own."""
        bootstrap_servers = self.settings.kafka_bootstrap_servers
        return Worker(
            "outbox-relay",
            lambda: outbox.run_relay(RelayProducer(bootstrap_servers, f"{self.name}-relay")),
        )


@dataclass(frozen=True)
class Service(Generic[S]):
    """A service: its name, settings, where it listens and keeps its data, the topics it
    needs and how its parts are made."""

    name: str
    settings: type[S]
    # Host and port of its gRPC server, and its own database, from its settings.
    listens: Callable[[S], tuple[str, int]]
    database: Callable[[S], str]
    # The topics it publishes to or consumes, created at start if missing.
    topics: Callable[[Topics], list[str]]
    assemble: Callable[[Setup[S]], Awaitable[Assembled]]

    def main(self) -> None:
        """The process: settings, logging and telemetry, then `serve` until a signal."""
        run_service(self.name, self.settings, self.serve)

    async def serve(self, settings: S, stop: asyncio.Event) -> None:
        topics = Topics(settings.kafka_topic_prefix)
        client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
        try:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                self.topics(topics),
                settings.startup_timeout_seconds,
                retention_ms=settings.kafka_topic_retention_ms,
            )
            host, port = self.listens(settings)
            database = client[self.database(settings)]
            setup = Setup(self.name, settings, topics, client, database, host, port)
            await run(self.name, await self.assemble(setup), stop)
        finally:
            await client.close()


async def run(name: str, assembled: Assembled, stop: asyncio.Event) -> None:
    """Start `assembled`'s parts, serve until `stop`, stop everything in reverse."""
    server = assembled.server
    async with contextlib.AsyncExitStack() as stack:
        for close in assembled.closing:
            stack.push_async_callback(close)
        # Before any part starts, so a part that reports health itself (the gateway's
        # backend watch) is never overwritten by this first report.
        await server.set_serving(assembled.serving)
        for part in assembled.parts:
            await part.start()
            stack.push_async_callback(part.stop)
        await server.start()
        stack.push_async_callback(_stop_server, server, assembled.doors)
        for door in assembled.doors:
            await door.start()
        log.info("%s listening on %s%s", name, server.address, assembled.describe)
        await stop.wait()
        log.info("%s stopping", name)


async def _stop_server(server: GrpcServer, doors: list[Door]) -> None:
    stopping = asyncio.ensure_future(server.stop())
    for door in doors:
        await door.stop(stopping)
    await stopping
