"""Works the delivery queue: concurrent attempts, fair to every endpoint.

One loop claims due deliveries and starts each attempt as its own task, up to
`concurrency` at once and at most `per_endpoint` per webhook origin or e-mail
domain. A slow endpoint therefore ties up a few tasks for at most its timeout,
and a failing one waits out its backoff in the queue; neither holds back anyone
else's deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from quorum_common import meters
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_common.secretbox import SecretBox, SecretUnreadable
from quorum_common.workers import idle_until, run_woken
from quorum_notifications import content
from quorum_notifications.deliveries import DeliveryLog
from quorum_notifications.domain import (
    AttemptResult,
    Channel,
    Decision,
    Kind,
    Outcome,
    RetryPolicy,
    Status,
)
from quorum_notifications.mail import EmailSender
from quorum_notifications.subscriptions import Subscriptions, signing_of
from quorum_notifications.webhooks import WebhookSender

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
# What an attempt left the delivery as, in quorum.notifications.deliveries' terms.
_OUTCOMES = {
    Status.DELIVERED: "delivered",
    Status.PENDING: "failed",  # it will be attempted again
    Status.FAILED: "dead_lettered",  # retries exhausted (or refused for good)
    Status.CANCELLED: "skipped",
}


class Senders:
    def __init__(self, webhooks: WebhookSender, mail: EmailSender, box: SecretBox) -> None:
        self._webhooks = webhooks
        self._mail = mail
        self._box = box

    async def send(self, delivery: Document, subscription: Document) -> AttemptResult:
        document = delivery["payload"]
        if delivery["channel"] == Channel.WEBHOOK.value:
            try:
                # Read at each attempt: a rotation counts from the next attempt on.
                signing = signing_of(subscription, self._box, now())
            except SecretUnreadable as error:
                return AttemptResult(Outcome.FAILED, 0, f"{error} (NOTIFICATIONS_SECRETS_KEY)")
            return await self._webhooks.send(
                delivery["target"],
                signing,
                content.body(document),
                delivery["_id"],
                document["type"],
            )
        subject, text = content.email(document, Kind(delivery["kind"]))
        return await self._mail.send(
            delivery["target"], subject, text, delivery["_id"], document["type"]
        )


class Dispatcher:
    def __init__(
        self,
        deliveries: DeliveryLog,
        subscriptions: Subscriptions,
        senders: Senders,
        policy: RetryPolicy,
        *,
        concurrency: int,
        per_endpoint: int,
        lease: timedelta,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._deliveries = deliveries
        self._subscriptions = subscriptions
        self._senders = senders
        self._policy = policy
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._lease = lease
        self._rand = rand
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: Counter[str] = Counter()

    def notify(self) -> None:
        """Deliveries were queued, or an attempt finished and freed a slot."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and attempt deliveries forever; cancel the task, then `drain`."""
        await run_woken(self._wake, self._fill, log, "the delivery queue", IDLE_SECONDS)

    async def _fill(self) -> float:
        """Start attempts while there are slots and due work; how long to idle then."""
        while len(self._tasks) < self._concurrency:
            busy = [e for e, n in self._in_flight.items() if n >= self._per_endpoint]
            claimed = await self._deliveries.claim(now(), self._lease, busy)
            if claimed is None:
                return idle_until(await self._deliveries.next_due(busy), IDLE_SECONDS)
            self._in_flight[claimed["endpoint"]] += 1
            task = asyncio.create_task(self._attempt(claimed), name=f"delivery-{claimed['_id']}")
            self._tasks.add(task)
        return IDLE_SECONDS  # every slot is taken; a finishing attempt wakes us

    async def _attempt(self, claimed: Document) -> None:
        try:
            subscription = await self._subscriptions.find(
                claimed["tenant_id"], claimed["subscription_id"]
            )
            if subscription is None:
                await self._deliveries.cancel(claimed, now())
                meters.record_delivery(channel=str(claimed["channel"]).lower(), outcome="skipped")
                return
            attempted_at = now()
            began = time.monotonic()
            result = await self._senders.send(claimed, subscription)
            duration_ms = int((time.monotonic() - began) * 1000)
            status = await self._deliveries.record(
                claimed, result, attempted_at, duration_ms, self._decide
            )
            if status is not None:
                meters.record_delivery(
                    channel=str(claimed["channel"]).lower(),
                    outcome=_OUTCOMES[status],
                    event_type=str(claimed["payload"].get("type", "")),
                    seconds=duration_ms / 1000,
                )
            log.info(
                "delivery %s to %s: attempt %s, %s",
                claimed["_id"],
                claimed["endpoint"],
                result.outcome.value
                + (f" {result.response_code}" if result.response_code else "")
                + (f" ({result.error})" if result.error else ""),
                status.value if status is not None else "no longer ours",
            )
        except Exception:
            # The lease runs out and the delivery is attempted again; nothing is lost.
            log.exception("delivery %s: attempt could not be completed", claimed["_id"])
        finally:
            self._in_flight[claimed["endpoint"]] -= 1
            if self._in_flight[claimed["endpoint"]] <= 0:
                del self._in_flight[claimed["endpoint"]]
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            self._wake.set()

    def _decide(self, number: int, result: AttemptResult) -> Decision:
        return self._policy.decide(number, result, self._rand())

    async def drain(self, grace_seconds: float) -> None:
        """Let attempts in flight finish (up to the grace), then abandon the rest.

        An abandoned attempt is attempted again once its lease runs out; receivers
        tell the repeat by its Quorum-Event-Id.
        """
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
