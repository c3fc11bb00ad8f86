"""From events to queued deliveries: the consumer's handler and the fan-out worker.

The consumer only records (in its transaction, with the event id) that an event
calls for a notification; choosing recipients happens here, off the consumer's
critical path, because it may have to wait a moment for the idea events that say
who endorsed (they travel on another topic and can arrive after the validation
event that calls for the notification).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_notifications import content
from quorum_notifications.deliveries import DeliveryLog
from quorum_notifications.domain import (
    Notification,
    Planned,
    Status,
    audience,
    endpoint,
    notification_of,
    plan,
    ready,
)
from quorum_notifications.messages import recipient_document
from quorum_notifications.recipients import Recipients
from quorum_notifications.subscriptions import Subscriptions

log = logging.getLogger(__name__)

# While waiting for the recipients projection, look again this often.
RECHECK = timedelta(milliseconds=100)
# A job being fanned out is hidden from other workers this long.
JOB_LEASE = timedelta(seconds=30)
IDLE_SECONDS = 1.0


class Intake:
    """The event consumer's handler (inside its transaction)."""

    def __init__(
        self,
        recipients: Recipients,
        deliveries: DeliveryLog,
        on_job: Callable[[], None] = lambda: None,
    ) -> None:
        self._recipients = recipients
        self._deliveries = deliveries
        self._on_job = on_job
        self._job_added = False

    async def apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        await self._recipients.apply(session, event)
        notification = notification_of(event)
        if notification is not None:
            await self._deliveries.add_job(session, event, notification, now())
            self._job_added = True

    def committed(self) -> None:
        """After the consumer's commit: wake the fan-out only if there is a job for it.

        Most events (endorsements) only update the recipients; waking the fan-out for
        each cost two MongoDB queries per event for nothing (docs/benchmarks.md). A job
        waiting for recipients is re-checked on its own schedule (RECHECK).
        """
        if self._job_added:
            self._job_added = False
            self._on_job()


def delivery_document(
    notification: Notification, planned: Planned, title: str, at: datetime
) -> Document:
    subscription = planned.subscription
    return {
        "_id": planned.delivery_id,
        "tenant_id": notification.tenant_id,
        "idea_id": notification.idea_id,
        "event_id": notification.event_id,
        "kind": notification.kind.value,
        "subscription_id": subscription.subscription_id,
        "recipient": recipient_document(planned.recipient),
        "recipient_key": planned.recipient.key,
        "channel": subscription.channel.value,
        "target": subscription.target,
        "channel_key": subscription.channel_key,
        "endpoint": endpoint(subscription.channel, subscription.target),
        "payload": content.payload(notification, planned.recipient, planned.delivery_id, title),
        "status": Status.PENDING.value,
        "attempts": [],
        "due_at": at,
        "claim": None,
        "created_at": at,
        "completed_at": None,
    }


class FanOut:
    def __init__(
        self,
        deliveries: DeliveryLog,
        recipients: Recipients,
        subscriptions: Subscriptions,
        on_planned: Callable[[], None],
        patience: timedelta,
    ) -> None:
        self._deliveries = deliveries
        self._recipients = recipients
        self._subscriptions = subscriptions
        self._on_planned = on_planned
        self._patience = patience
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """A consumer transaction with a job has committed."""
        self._wake.set()

    async def run(self) -> None:
        """Fan out due jobs forever; cancel the task to stop it."""
        while True:
            # Cleared before looking, so a notify() during the look is not lost.
            self._wake.clear()
            try:
                if await self._once():
                    continue
                due = await self._deliveries.next_job_due()
            except PyMongoError as error:
                log.warning("fan-out failed, will retry: %s", error)
                await asyncio.sleep(IDLE_SECONDS)
                continue
            wait = IDLE_SECONDS
            if due is not None:
                wait = min(IDLE_SECONDS, max(0.005, (due - now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _once(self) -> bool:
        at = now()
        job = await self._deliveries.claim_job(at, JOB_LEASE)
        if job is None:
            return False
        notification = notification_of(events_pb2.Event.FromString(job["event"]))
        if notification is None:  # cannot happen: only such events become jobs
            await self._deliveries.plan(job["_id"], [], at)
            return True
        people = await self._recipients.people(notification.tenant_id, notification.idea_id)
        waited = at - job["created_at"]
        if not ready(notification, people, waited, self._patience):
            await self._deliveries.postpone_job(job["_id"], at + RECHECK)
            return True
        if not ready(notification, people, timedelta(0), self._patience):
            log.warning(
                "%s %s: idea events naming its endorsers did not arrive within %s; "
                "telling the endorsers known so far",
                notification.kind.value,
                notification.event_id,
                self._patience,
            )
        told = audience(notification, people)
        subscriptions = await self._subscriptions.matching(
            notification.tenant_id, [r.key for r in told.recipients()], notification.kind
        )
        title = people.title if people else ""
        docs = [
            delivery_document(notification, p, title, at)
            for p in plan(notification, told, subscriptions)
        ]
        created = await self._deliveries.plan(job["_id"], docs, at)
        log.info(
            "%s %s for idea %s: %d deliveries queued",
            notification.kind.value,
            notification.event_id,
            notification.idea_id,
            created,
        )
        if created:
            self._on_planned()
        return True
