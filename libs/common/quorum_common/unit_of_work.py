"""One unit of work: a state change and the events it owes, committed together.

`commit(client, outbox, work)` runs `work(unit)` in a majority-committed snapshot
transaction, retried from the start on transient errors (write conflicts, a primary
stepping down), so `work` must decide only on what it reads through `unit.session`.
The events it publishes (`unit.publish`) are inserted into the outbox in the same
transaction with one command, and once the transaction has committed they are handed
to the relay in memory (`Outbox.committed`): publishing costs no second read, and a
crash between the commit and the publish leaves them in the outbox for the sweep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from quorum.events.v1 import events_pb2
from quorum_common import fault_points, tracing
from quorum_common.mongo import Document

if TYPE_CHECKING:
    from quorum_common.outbox import Outbox

T = TypeVar("T")


@dataclass
class Unit:
    """One attempt of a transaction: its session and the events it will owe."""

    session: AsyncClientSession
    outbox: Outbox | None
    # The trace context the events continue unless told otherwise: the caller's.
    cause: dict[str, str] = field(default_factory=dict)
    rows: list[Document] = field(default_factory=list)

    def publish(
        self,
        events: Iterable[events_pb2.Event],
        trace: Mapping[str, str] | None = None,
        topic: str | None = None,
    ) -> None:
        """Owe these events if the transaction commits.

        `trace` is the W3C context the events continue (a consumed record's processing
        span); by default the context `commit` was called in (the request's span, not
        the transaction's). `topic` is the outbox's own unless another is named (a
        service's dead-letter topic, say).
        """
        if self.outbox is None:
            raise RuntimeError("this unit of work has no outbox to publish through")
        self.rows.extend(self.outbox.rows(events, self.cause if trace is None else trace, topic))


async def commit(
    client: AsyncMongoClient[Document],
    outbox: Outbox | None,
    work: Callable[[Unit], Awaitable[T]],
) -> T:
    """Run `work` and insert its events in one transaction; relay them after the commit."""
    written: list[Document] = []
    attempts = 0
    cause = tracing.current_trace_context()

    async def attempt(session: AsyncClientSession) -> T:
        nonlocal written, attempts
        attempts += 1
        unit = Unit(session, outbox, cause)
        result = await work(unit)
        if unit.rows and outbox is not None:
            await outbox.insert(session, unit.rows)
        written = unit.rows
        fault_points.reached("transaction")
        return result

    database = outbox.database_name if outbox is not None else ""
    with tracing.transaction_span(database) as span:
        async with client.start_session() as session:
            result = await session.with_transaction(
                attempt,
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority"),
            )
        if span is not None:
            span.set_attributes({"quorum.attempts": attempts, "quorum.events": len(written)})
    if written and outbox is not None:
        fault_points.reached("committed")
        outbox.committed(written)
    return result
