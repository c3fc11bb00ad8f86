"""A consumer tells whether the broker rewrote a partition under it (quorum_common.rewritten).

The check reads back the record the consumer applied last from each assigned
partition: the same record at the same offset means the log is as it was; a missing
or different one means the broker lost records and the relays refilled the log, so
the consumer must read the partition again from its earliest offset.
"""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from conftest import Isolation

from quorum_common.rewritten import LastApplied
from support.kafka import fill_partition
from support.servers import Servers

pytestmark = pytest.mark.integration


async def test_the_last_applied_record_tells_a_rewritten_log(
    infra: Servers, isolation: Isolation
) -> None:
    topic = f"{isolation.topic_prefix}rewrites"
    sent = await fill_partition(infra.kafka_bootstrap_servers, topic, 3)
    tp = TopicPartition(topic, 0)
    last = LastApplied(infra.kafka_bootstrap_servers)
    assert await last.rewritten([tp]) == []  # nothing applied from it yet: nothing to check
    last.note(tp, sent[1].offset, b"event 1")
    assert await last.rewritten([tp]) == []
    last.note(tp, sent[1].offset, b"event 2")  # another record where it was
    assert await last.rewritten([tp]) == [tp]
    last.note(tp, sent[2].offset + 5, b"event 7")  # past the log's end: lost
    assert await last.rewritten([tp]) == [tp]
