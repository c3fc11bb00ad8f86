"""What a relay's first producer looks for: only what earlier processes left.

After a new producer (most often a broker that restarted) the relay reads its recent
rows back from the log for a while, to find records the broker lost (outbox.py). A
relay's first producer can only find lost what earlier processes published: a fresh
outbox has nothing to look for and must not pay for looking; one with rows retained
from an earlier process reads them back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient

from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.outbox import COLLECTION as OUTBOX
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from support import events
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "tenant-first-producer"


async def _relay_until(outbox: Outbox, bootstrap: str, audits: int) -> None:
    """Run a relay of `outbox` until it has made `audits` audits."""
    relay = asyncio.create_task(
        outbox.run_relay(RelayProducer(bootstrap, "first-producer-test"), sweep_seconds=0.2)
    )
    try:
        await until(lambda: outbox.audits >= audits, f"{audits} audits of the relay")
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay


async def test_a_fresh_outbox_reads_nothing_back_and_one_left_rows_reads_them_back(
    infra: Servers, isolation: Isolation
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = f"{isolation.topic_prefix}quorum.ideas.v1"
    await ensure_topics(bootstrap, [topic], 10.0)
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    database = client[isolation.database("relay")]
    try:
        fresh = Outbox(database, topic)

        async def work(unit: Unit) -> None:
            unit.publish([events.submitted(TENANT, f"org-{n}") for n in range(5)])

        await commit(client, fresh, work)
        await _relay_until(fresh, bootstrap, audits=3)
        assert not await database[OUTBOX].count_documents({"owed": True})
        assert fresh.read_backs == 0

        # A process started after that one: its first batch finds the earlier rows
        # retained, and they are read back.
        later = Outbox(database, topic)
        await commit(client, later, work)
        await _relay_until(later, bootstrap, audits=2)
        assert later.read_backs >= 1
        assert later.republished == 0  # the broker lost nothing
    finally:
        await client.close()
