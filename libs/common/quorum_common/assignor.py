"""Partition assignment that gives each static member the same partitions every time.

aiokafka's default (round-robin over the members sorted by member id) hands out
partitions by member id, and a restarted member gets a new member id: so the same
replicas may be given other partitions after any restart. On Kafka that costs a
revocation at most. On noida-db it loses a reader: when one static member rejoins
while the others run, noida-db makes it the group's leader, takes the assignment it
computes for every member, and tells only the rejoining member; the others are never
asked to rejoin and go on reading their old partitions. `make chaos` showed it (two
validation replicas, one restarted: it was given partition 1, which the other was
still reading, and partitions 0 and 2 had no reader for good), and so does a probe
with two bare aiokafka consumers (docs/infra.md, "Static membership and replicas").

This assignor lays the partitions out round-robin over the members sorted by their
group instance id (which each member sends in its subscription's user data), so the
assignment depends only on which replicas are in the group and what they subscribe
to, never on member ids: a restarted replica gets back what it had, and what the
coordinator records for the others is what they already read, whoever computed it.
Members without an instance id (dynamic members) sort by member id, as round-robin.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping

from aiokafka import TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)


class ByInstanceAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
    """Round-robin over the members ordered by group instance id (see the module)."""

    # Every member of a group must offer it (see EventConsumer for why it is the only
    # protocol offered).
    name = "quorum-by-instance"
    version = 0

    def __init__(self, group_instance_id: str | None) -> None:
        self._user_data = (group_instance_id or "").encode()

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), self._user_data)

    def assign(
        self,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        return assign(
            {member_id: _order_key(member_id, meta) for member_id, meta in members.items()},
            {member_id: set(meta.subscription) for member_id, meta in members.items()},
            lambda topic: cluster.partitions_for_topic(topic),
            self.version,
        )

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        return None


def _order_key(member_id: str, metadata: ConsumerProtocolMemberMetadata) -> tuple[str, str]:
    """Static members by instance id, then dynamic ones by member id."""
    instance = bytes(metadata.user_data or b"").decode(errors="replace")
    return (f"0{instance}", member_id) if instance else ("1", member_id)


def assign(
    order: Mapping[str, tuple[str, str]],
    subscriptions: Mapping[str, set[str]],
    partitions_for: Callable[[str], Collection[int] | None],
    version: int = 0,
) -> dict[str, ConsumerProtocolMemberAssignment]:
    """Round-robin of every subscribed partition over the members in `order`'s order.

    A member is passed over for a topic it does not subscribe to (replicas of one
    service all subscribe to the same topics, so each gets an equal share).
    """
    topics = sorted(set().union(*subscriptions.values())) if subscriptions else []
    laid_out = [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(partitions_for(topic) or ())
    ]
    ordered = sorted(order, key=lambda member_id: order[member_id])
    given: dict[str, dict[str, list[int]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    members = itertools.cycle(ordered)
    for tp in laid_out:
        member_id = next(members)
        # Some member subscribes to every laid-out topic, so this ends.
        while tp.topic not in subscriptions[member_id]:
            member_id = next(members)
        given[member_id][tp.topic].append(tp.partition)
    return {
        member_id: ConsumerProtocolMemberAssignment(version, sorted(given[member_id].items()), b"")
        for member_id in subscriptions
    }
