"""The relay reads the log back at its rows' offsets (quorum_common.acknowledged.not_there).

After a broker lost records, another replica's relay may refill the log past this
relay's acknowledgements before it looks, so the log end tells nothing; the records
at the rows' offsets do: the same record means the row is there, another record or
none means the broker lost it.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from conftest import Isolation
from pymongo import AsyncMongoClient

from quorum_common.acknowledged import Acknowledged
from support.kafka import fill_partition
from support.servers import Servers

pytestmark = pytest.mark.integration


async def test_a_row_whose_offset_holds_another_record_was_lost(
    infra: Servers, isolation: Isolation
) -> None:
    topic = f"{isolation.topic_prefix}readback"
    sent = await fill_partition(infra.kafka_bootstrap_servers, topic, 4)

    def row(offset: int, value: str) -> dict[str, Any]:
        return {"topic": topic, "partition": 0, "offset": offset, "value": value.encode()}

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    acknowledged = Acknowledged(
        client[isolation.database("relay")]["outbox"], [infra.kafka_bootstrap_servers]
    )
    try:
        there = [row(sent[n].offset, f"event {n}") for n in range(4)]
        assert await acknowledged.not_there(there) == {}
        assert await acknowledged.not_there([]) == {}
        # Another relay's record where this row was acknowledged: lost from there on.
        elsewhere = [*there[:1], row(sent[1].offset, "event 9"), *there[2:]]
        assert await acknowledged.not_there(elsewhere) == {TopicPartition(topic, 0): sent[1].offset}
        # Past the log's end: lost too.
        beyond = [*there, row(sent[3].offset + 2, "event 5")]
        assert await acknowledged.not_there(beyond) == {
            TopicPartition(topic, 0): sent[3].offset + 2
        }
    finally:
        await acknowledged.close()
        await client.close()
