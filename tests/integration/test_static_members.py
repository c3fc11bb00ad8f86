"""A restarted static member leaves every partition read once (quorum_common.assignor).

Two static members share a topic's three partitions; one is stopped the way a SIGKILL
leaves it to the broker (a static member sends no LeaveGroup) and started again under
the same instance id while the other keeps running. Afterwards what each member reads
must be what the coordinator records for it, together every partition once, and each
the partitions it read before. With aiokafka's round-robin by member id this failed on
noida-db at every second restart: the restarted member, under a new member id, was
handed the partition the running one still read, and two partitions had no reader.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from conftest import Isolation

from quorum_common.assignor import ByInstanceAssignor
from quorum_common.kafka import PARTITIONS, ensure_topics
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration


class Member:
    """A static member that polls, as a service's consumer does, so it takes part in rebalances."""

    def __init__(self, servers: str, group: str, topic: str, instance: str) -> None:
        self.instance = instance
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=servers,
            group_id=group,
            group_instance_id=instance,
            # One client id for all, as a service's replicas have: noida-db's member ids
            # begin with it, and round-robin by member id then orders them by time.
            client_id="quorum-test",
            enable_auto_commit=False,
            partition_assignment_strategy=(ByInstanceAssignor(instance),),
        )
        self.consumer.subscribe([topic])
        self._polling: asyncio.Task[None] | None = None

    async def start(self) -> Member:
        await self.consumer.start()
        self._polling = asyncio.create_task(self._poll())
        return self

    async def _poll(self) -> None:
        while True:
            await self.consumer.getmany(timeout_ms=100)

    def reads(self) -> set[TopicPartition]:
        return set(self.consumer.assignment())

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await self._polling
        await self.consumer.stop()


async def recorded(servers: str, group: str) -> tuple[str, list[set[int]]]:
    """The group's state and the partitions the coordinator records for each member."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        [answer] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    _error, _group, state, _kind, _protocol, members = answer.groups[0][:6]
    given = []
    for *_member, assignment in members:
        decoded = ConsumerProtocolMemberAssignment.decode(assignment) if assignment else None
        given.append({p for _t, parts in decoded.assignment for p in parts} if decoded else set())
    return state, given


async def test_a_restarted_static_member_leaves_every_partition_read_once(
    infra: Servers, isolation: Isolation
) -> None:
    servers = infra.kafka_bootstrap_servers
    topic = f"{isolation.topic_prefix}members"
    group = f"{isolation.topic_prefix}group"
    await ensure_topics(servers, [topic], 10.0)
    everything = collections.Counter(TopicPartition(topic, p) for p in range(PARTITIONS))
    members = {
        name: await Member(servers, group, topic, name).start()
        for name in ("replica-a", "replica-b")
    }

    async def settled() -> bool:
        # What the members read is what the coordinator gave them (the same sets).
        state, given = await recorded(servers, group)
        reading = [{tp.partition for tp in m.reads()} for m in members.values()]
        return state == "Stable" and sorted(map(sorted, given)) == sorted(map(sorted, reading))

    try:
        await until(settled, "both members reading what the coordinator gave them", 30.0)
        before = {name: m.reads() for name, m in members.items()}
        assert collections.Counter(tp for m in members.values() for tp in m.reads()) == everything
        for restarted in ("replica-a", "replica-b", "replica-a", "replica-b"):
            await members[restarted].stop()
            members[restarted] = await Member(servers, group, topic, restarted).start()
            await until(settled, f"the group settled after {restarted} restarted", 30.0)
            # Each reads what it read before: every partition once, whoever computed it.
            assert {name: m.reads() for name, m in members.items()} == before
    finally:
        for m in members.values():
            await m.stop()
