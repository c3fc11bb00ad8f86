"""From events to queued deliveries: the consumer's handler and the fan-out worker.

The consumer only records (in its transaction, with the event id) that an event
calls for a notification some subscription of its tenant wants; choosing recipients
happens here, off the consumer's critical path, because it may have to wait a moment
for the idea events that say who endorsed (they travel on another topic and can
arrive after the validation event that calls for the notification).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

from quorum.events.v1 import events_pb2
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_common.processed import Consumed
from quorum_common.unit_of_work import Unit
from quorum_common.workers import idle_until, run_woken
from quorum_notifications import content
from quorum_notifications.deliveries import DeliveryLog
from quorum_notifications.domain import (
    NOTIFYING_EVENTS,
    Audience,
    IdeaPeople,
    Notification,
    Planned,
    Status,
    audience,
    endpoint,
    notification_of,
    plan,
    ready,
    tells_endorsers,
)
from quorum_notifications.messages import recipient_document
from quorum_notifications.projection import RECIPIENT_EVENTS
from quorum_notifications.recipients import Recipients
from quorum_notifications.subscriptions import Subscriptions

log = logging.getLogger(__name__)

# While waiting for the recipients projection, look again this often.
RECHECK = timedelta(milliseconds=100)
# A job being fanned out is hidden from other workers this long.
JOB_LEASE = timedelta(seconds=30)
IDLE_SECONDS = 1.0


class Intake:
    """The event consumer's handler (inside its transaction), set-based.

    A consumed batch costs one bulk write per collection it changes: the recipients
    projection (the batch's idea events) and the fan-out jobs (its events that call
    for a notification); the consumer takes only these kinds (`KINDS`).
    """

    KINDS = RECIPIENT_EVENTS | NOTIFYING_EVENTS

    def __init__(
        self,
        recipients: Recipients,
        deliveries: DeliveryLog,
        subscriptions: Subscriptions,
        on_job: Callable[[], None] = lambda: None,
    ) -> None:
        self._recipients = recipients
        self._deliveries = deliveries
        self._subscriptions = subscriptions
        self._on_job = on_job
        self._job_added = False

    async def handle(self, unit: Unit, consumed: Sequence[Consumed]) -> None:
        events = [c.event for c in consumed]
        await self._recipients.apply(unit.session, events)
        jobs = [(e, n) for e in events if (n := notification_of(e)) is not None]
        if jobs:
            # A kind nobody in the tenant subscribed to makes no job: most gates open
            # with no subscriber for them, and a job costs the fan-out three commands of
            # its own (claim, look, finish) where this costs one read per batch.
            wanted = await self._subscriptions.wanted(
                unit.session, ((n.tenant_id, n.kind) for _, n in jobs)
            )
            jobs = [(e, n) for e, n in jobs if (n.tenant_id, n.kind) in wanted]
        if jobs:
            await self._deliveries.add_jobs(unit.session, jobs, now())
            # Set by an attempt that may yet abort: at worst one needless wake-up.
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
        await run_woken(self._wake, self._look, log, "fan-out", IDLE_SECONDS)

    async def _look(self) -> float:
        """Fan out one due job; how long to idle then (0: there may be more)."""
        if await self._once():
            return 0.0
        return idle_until(await self._deliveries.next_job_due(), IDLE_SECONDS)

    async def _once(self) -> bool:
        at = now()
        job = await self._deliveries.claim_job(at, JOB_LEASE)
        if job is None:
            return False
        notification = notification_of(events_pb2.Event.FromString(job["event"]))
        if notification is None:  # cannot happen: only such events become jobs
            await self._deliveries.finish_job(job["_id"], 0, at)
            return True
        if not await self._subscriptions.any_wanting(notification.tenant_id, notification.kind):
            # Nobody in the tenant wants this kind: no recipients to read, no audience
            # to page through (most gates open with no subscriber for them). A
            # subscription made from now on hears of the next such event.
            await self._deliveries.finish_job(job["_id"], 0, at)
            return True
        idea = await self._recipients.idea(notification.tenant_id, notification.idea_id)
        known = (
            await self._recipients.known(
                notification.tenant_id, notification.idea_id, notification.organizations
            )
            if idea is not None
            else None
        )
        waited = at - job["created_at"]
        if not ready(notification, known, waited, self._patience):
            await self._deliveries.postpone_job(job["_id"], at + RECHECK)
            return True
        if not ready(notification, known, timedelta(0), self._patience):
            log.warning(
                "%s %s: idea events naming its endorsers did not arrive within %s; "
                "telling the endorsers known so far",
                notification.kind.value,
                notification.event_id,
                self._patience,
            )
        planned = created = 0
        leased = at
        title = idea.title if idea else ""
        async for told in self._audiences(notification, idea):
            subscriptions = await self._subscriptions.matching(
                notification.tenant_id, [r.key for r in told.recipients()], notification.kind
            )
            docs = [
                delivery_document(notification, p, title, at)
                for p in plan(notification, told, subscriptions)
            ]
            planned += len(docs)
            created += await self._deliveries.queue(docs)
            if created:
                self._on_planned()  # the first deliveries need not wait for the last page
            if now() - leased > JOB_LEASE / 3:
                # Still ours while the pages last: no other worker takes the job over.
                leased = now()
                await self._deliveries.postpone_job(job["_id"], leased + JOB_LEASE)
        await self._deliveries.finish_job(job["_id"], planned, now())
        # At INFO only when someone is told: most events reach no subscriber, and a
        # line for each would bury the ones that matter.
        log.log(
            logging.INFO if created else logging.DEBUG,
            "%s %s for idea %s: %d deliveries queued",
            notification.kind.value,
            notification.event_id,
            notification.idea_id,
            created,
        )
        return True

    async def _audiences(
        self, notification: Notification, idea: IdeaPeople | None
    ) -> AsyncIterator[Audience]:
        """The audience a page of endorsers at a time, so no idea is too big to tell.

        The first page brings everyone but the endorsers (submitter, councils, teams);
        organizations come with each page of their members (one straddling two pages
        is planned twice, which queues its delivery once: the ids are deterministic).
        """
        if not tells_endorsers(notification):
            yield audience(notification, idea)
            return
        submitter = idea.submitter if idea else None
        first = True
        async for page in self._recipients.endorsers(notification.tenant_id, notification.idea_id):
            members = frozenset(page)
            if first:
                yield audience(notification, IdeaPeople(submitter=submitter, members=members))
                first = False
            else:
                yield Audience(members=members)
