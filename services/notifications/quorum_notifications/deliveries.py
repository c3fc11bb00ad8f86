"""The delivery queue and log, and the fan-out jobs that fill it (MongoDB).

`fanout` holds one job per event that calls for a notification, written in the
consumer's transaction (one command per consumed batch). `deliveries` holds one
document per (event, recipient, channel) — its `_id` derived from those three, so
planning twice changes nothing — that is at once a queue entry (status PENDING,
due at `due_at`) and the log of every attempt. Workers claim due entries with a
lease (`due_at` pushed past the attempt's timeout), so a crashed worker's delivery
is simply due again later; any number of workers and processes share the queue.

Finishing a delivery (DELIVERED, or FAILED and dead-lettered) owes its
NotificationDelivered / NotificationFailed event in the same unit of work
(`unit_of_work.commit`), so the event is published exactly when the status changes,
handed to the relay in memory once committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import Binary
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.mongo import Document
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_notifications.domain import (
    AttemptResult,
    Decision,
    Kind,
    Notification,
    Scope,
    Status,
    Verdict,
)
from quorum_notifications.messages import delivered_event, failed_event
from quorum_notifications.paging import Cursor, page_of
from quorum_notifications.subscriptions import scope_clause

log = logging.getLogger(__name__)

FANOUT = "fanout"
DELIVERIES = "deliveries"
FANOUT_INDEXES = [
    IndexModel([("state", ASCENDING), ("due_at", ASCENDING)], name="due"),
    # Done jobs only guard against a redelivered event; Kafka keeps events for less.
    IndexModel(
        [("done_at", ASCENDING)],
        name="expire_done",
        expireAfterSeconds=int(timedelta(days=30).total_seconds()),
    ),
]
DELIVERY_INDEXES = [
    # The promise: one notification per (event, recipient, channel), however often
    # the event arrives. The _id is derived from the same three; this says it plainly.
    IndexModel(
        [("event_id", ASCENDING), ("recipient_key", ASCENDING), ("channel_key", ASCENDING)],
        name="once_per_recipient_and_channel",
        unique=True,
    ),
    IndexModel(
        [("due_at", ASCENDING)],
        name="queue",
        partialFilterExpression={"status": Status.PENDING.value},
    ),
    IndexModel(
        [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="log_newest_first",
    ),
    IndexModel(
        [("tenant_id", ASCENDING), ("subscription_id", ASCENDING), ("created_at", DESCENDING)],
        name="by_subscription",
    ),
    IndexModel(
        [("tenant_id", ASCENDING), ("idea_id", ASCENDING), ("created_at", DESCENDING)],
        name="by_idea",
    ),
    IndexModel([("tenant_id", ASCENDING), ("event_id", ASCENDING)], name="by_event"),
]


@dataclass(frozen=True)
class Filters:
    subscription_id: str = ""
    idea_id: str = ""
    event_id: str = ""
    status: Status | None = None
    kind: Kind | None = None
    recipient_key: str = ""
    # Only deliveries to recipients within this scope, when set.
    scope: Scope | None = None


class DeliveryLog:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        outbox: Outbox,
        dead_letter_topic: str,
    ) -> None:
        self._client = client
        self._fanout = database[FANOUT]
        self._deliveries = database[DELIVERIES]
        self._outbox = outbox
        self._dead_letter_topic = dead_letter_topic

    # --- fan-out jobs ------------------------------------------------------------

    async def add_jobs(
        self,
        session: AsyncClientSession,
        jobs: Sequence[tuple[events_pb2.Event, Notification]],
        at: datetime,
    ) -> None:
        """Inside the consumer's transaction: remember to fan these events out."""
        await self._fanout.bulk_write(
            [
                UpdateOne(
                    {"_id": notification.event_id},
                    {
                        "$setOnInsert": {
                            "tenant_id": notification.tenant_id,
                            "idea_id": notification.idea_id,
                            "kind": notification.kind.value,
                            "event": Binary(event.SerializeToString()),
                            "state": "PENDING",
                            "due_at": at,
                            "created_at": at,
                        }
                    },
                    upsert=True,
                )
                for event, notification in jobs
            ],
            ordered=False,
            session=session,
        )

    async def claim_job(self, at: datetime, lease: timedelta) -> Document | None:
        return await self._fanout.find_one_and_update(
            {"state": "PENDING", "due_at": {"$lte": at}},
            {"$set": {"due_at": at + lease}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def postpone_job(self, job_id: str, due_at: datetime) -> None:
        await self._fanout.update_one(
            {"_id": job_id, "state": "PENDING"}, {"$set": {"due_at": due_at}}
        )

    async def next_job_due(self) -> datetime | None:
        doc = await self._fanout.find_one(
            {"state": "PENDING"}, sort=[("due_at", ASCENDING)], projection={"due_at": 1}
        )
        return doc["due_at"] if doc else None

    async def queue(self, deliveries: Sequence[Document]) -> int:
        """Queue planned deliveries; how many were new.

        One command, no transaction: a delivery's id is derived from its event,
        recipient and channel, so queueing it again (a page planned twice, a job
        fanned out again after its worker died) changes nothing.
        """
        if not deliveries:
            return 0
        done = await self._deliveries.bulk_write(
            [UpdateOne({"_id": d["_id"]}, {"$setOnInsert": d}, upsert=True) for d in deliveries],
            ordered=False,
        )
        return done.upserted_count

    async def finish_job(self, job_id: str, planned: int, at: datetime) -> None:
        await self._fanout.update_one(
            {"_id": job_id},
            {"$set": {"state": "DONE", "done_at": at, "deliveries": planned}},
        )

    # --- the queue ---------------------------------------------------------------

    async def claim(
        self, at: datetime, lease: timedelta, busy_endpoints: Sequence[str]
    ) -> Document | None:
        """The most overdue delivery not bound for a busy endpoint, leased to the caller."""
        query: Document = {"status": Status.PENDING.value, "due_at": {"$lte": at}}
        if busy_endpoints:
            query["endpoint"] = {"$nin": list(busy_endpoints)}
        return await self._deliveries.find_one_and_update(
            query,
            {"$set": {"due_at": at + lease, "claim": str(uuid.uuid4())}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def next_due(self, busy_endpoints: Sequence[str]) -> datetime | None:
        query: Document = {"status": Status.PENDING.value}
        if busy_endpoints:
            query["endpoint"] = {"$nin": list(busy_endpoints)}
        doc = await self._deliveries.find_one(
            query, sort=[("due_at", ASCENDING)], projection={"due_at": 1}
        )
        return doc["due_at"] if doc else None

    async def record(
        self,
        claimed: Document,
        result: AttemptResult,
        attempted_at: datetime,
        duration_ms: int,
        decide: Callable[[int, AttemptResult], Decision],
    ) -> Status | None:
        """Log one attempt and apply `decide(number, result) -> Decision`.

        The attempt is logged whatever happened meanwhile (it did happen); the status
        changes only if this worker still holds the lease on a PENDING delivery.
        Returns the new status, or None when the delivery was no longer ours.
        """

        async def work(unit: Unit) -> Status | None:
            session = unit.session
            current = await self._deliveries.find_one({"_id": claimed["_id"]}, session=session)
            if current is None:
                return None
            number = len(current.get("attempts", [])) + 1
            attempt = {
                "number": number,
                "attempted_at": attempted_at,
                "outcome": result.outcome.value,
                "response_code": result.response_code,
                "error": result.error,
                "duration_ms": duration_ms,
            }
            ours = (
                current["status"] == Status.PENDING.value
                and current.get("claim") == claimed["claim"]
            )
            if not ours:
                await self._deliveries.update_one(
                    {"_id": current["_id"]}, {"$push": {"attempts": attempt}}, session=session
                )
                return None
            decision = decide(number, result)
            finished_at = attempted_at + timedelta(milliseconds=duration_ms)
            changes: Document = {"claim": None}
            if decision.verdict is Verdict.RETRY:
                status = Status.PENDING
                changes["due_at"] = finished_at + timedelta(seconds=decision.delay)
            elif decision.verdict is Verdict.DELIVERED:
                status = Status.DELIVERED
                changes.update(due_at=None, completed_at=finished_at)
                unit.publish([delivered_event(current, number, result.response_code, finished_at)])
            else:
                status = Status.FAILED
                changes.update(due_at=None, completed_at=finished_at, dead_lettered=True)
                # Each copy is an event of its own (its own id), as the outbox wants.
                copies = [
                    failed_event(current, number, result.response_code, result.error, finished_at)
                    for _ in range(2)
                ]
                unit.publish(copies[:1])
                self._dead_letter(unit, copies[1])
            changes["status"] = status.value
            await self._deliveries.update_one(
                {"_id": current["_id"]},
                {"$push": {"attempts": attempt}, "$set": changes},
                session=session,
            )
            return status

        return await commit(self._client, self._outbox, work)

    async def cancel(self, claimed: Document, at: datetime) -> None:
        """The subscription is gone: nothing more is sent for it."""
        await self._deliveries.update_one(
            {"_id": claimed["_id"], "status": Status.PENDING.value},
            {
                "$set": {
                    "status": Status.CANCELLED.value,
                    "due_at": None,
                    "claim": None,
                    "completed_at": at,
                }
            },
        )

    async def cancel_subscription(
        self, session: AsyncClientSession, tenant_id: str, subscription_id: str, at: datetime
    ) -> int:
        done = await self._deliveries.update_many(
            {
                "tenant_id": tenant_id,
                "subscription_id": subscription_id,
                "status": Status.PENDING.value,
            },
            {
                "$set": {
                    "status": Status.CANCELLED.value,
                    "due_at": None,
                    "claim": None,
                    "completed_at": at,
                }
            },
            session=session,
        )
        return done.modified_count

    def _dead_letter(self, unit: Unit, event: events_pb2.Event) -> None:
        """Owe `event` on the dead-letter topic, through the service's one outbox."""
        unit.publish([event], topic=self._dead_letter_topic)

    # --- the log -----------------------------------------------------------------

    async def page(
        self, tenant_id: str, filters: Filters, size: int, after: Cursor | None
    ) -> tuple[list[Document], Cursor | None]:
        query: Document = {"tenant_id": tenant_id}
        for name in ("subscription_id", "idea_id", "event_id", "recipient_key"):
            value = getattr(filters, name)
            if value:
                query[name] = value
        if filters.status is not None:
            query["status"] = filters.status.value
        if filters.kind is not None:
            query["kind"] = filters.kind.value
        if filters.scope is not None:
            query.setdefault("$and", []).append(scope_clause(filters.scope, "recipient_key"))
        return await page_of(self._deliveries, query, size, after, descending=True)
