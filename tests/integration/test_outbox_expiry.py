"""Published outbox rows leave once kept long enough, a little at a time; owed rows never.

The relay deletes rows published more than RETENTION ago every second, so MongoDB's
TTL monitor (one pass a minute, everything at once) finds nothing left to do; an outbox
of an earlier release, whose TTL index expired rows at RETENTION, takes the new expiry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.events import now
from quorum_common.outbox import COLLECTION, EXPIRY_MARGIN, RETENTION, Outbox
from support.servers import Servers

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(infra: Servers, isolation: Isolation) -> AsyncIterator[AsyncDatabase[Any]]:
    """A database of the test's own for an outbox (dropped with the isolation)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri)
    try:
        yield client[isolation.database("outbox")]
    finally:
        await client.close()


async def test_rows_past_retention_are_deleted_and_owed_rows_kept(
    database: AsyncDatabase[Any],
) -> None:
    outbox = Outbox(database, "topic")
    await outbox.prepare()
    moment = now()
    old = moment - RETENTION - timedelta(seconds=5)
    await database[COLLECTION].insert_many(
        [
            {"_id": "expired", "seq": 1, "owed": False, "published_at": old},
            {"_id": "kept", "seq": 2, "owed": False, "published_at": moment},
            # Never published (its relay died): however old, it stays owed.
            {"_id": "owed", "seq": 3, "owed": True, "created_at": old},
        ]
    )
    await outbox.expire()
    left = {doc["_id"] async for doc in database[COLLECTION].find({})}
    assert left == {"kept", "owed"}


async def test_an_earlier_layouts_ttl_index_takes_the_new_expiry(
    database: AsyncDatabase[Any],
) -> None:
    await database[COLLECTION].create_index(
        "published_at",
        name="expire_acknowledged",
        expireAfterSeconds=int(RETENTION.total_seconds()),
    )
    await Outbox(database, "topic").prepare()
    index = (await database[COLLECTION].index_information())["expire_acknowledged"]
    assert index["expireAfterSeconds"] == int((RETENTION + EXPIRY_MARGIN).total_seconds())
