"""Partitions by group instance id (quorum_common.assignor): the rules without a broker."""

from __future__ import annotations

from typing import cast

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from quorum_common.assignor import ByInstanceAssignor

PARTITIONS = {"ideas": [0, 1, 2], "validation": [0, 1, 2], "notifications": [0, 1, 2]}


def given(members: dict[str, tuple[str, list[str]]]) -> dict[str, dict[str, list[int]]]:
    """member id -> (instance id, topics) in; member id -> {topic: partitions} out."""
    metadata = {
        member_id: ByInstanceAssignor(instance).metadata(topics)
        for member_id, (instance, topics) in members.items()
    }
    # Whichever member leads computes it: any instance's assignor gives the same.
    leader = ByInstanceAssignor(next(iter(members.values()))[0])
    out = leader.assign(cast(ClusterMetadata, Partitions()), metadata)
    return {m: dict(a.assignment) for m, a in out.items()}


class Partitions:
    """What the assignor asks of the cluster's metadata."""

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        found = PARTITIONS.get(topic)
        return set(found) if found is not None else None


def test_each_instance_gets_the_same_partitions_whatever_its_member_id() -> None:
    topics = ["ideas", "validation", "notifications"]
    first = given({"m-1": ("host:1", topics), "m-2": ("host:2", topics)})
    # host:1 restarted: a new member id that sorts after the other's.
    again = given({"z-9": ("host:1", topics), "m-2": ("host:2", topics)})
    assert again["z-9"] == first["m-1"]
    assert again["m-2"] == first["m-2"]


def test_every_partition_goes_to_one_member() -> None:
    topics = ["ideas", "validation", "notifications"]
    out = given({"a": ("host:1", topics), "b": ("host:2", topics), "c": ("host:3", topics)})
    taken = sorted((t, p) for parts in out.values() for t, ps in parts.items() for p in ps)
    assert taken == sorted((t, p) for t, ps in PARTITIONS.items() for p in ps)
    assert all(sum(map(len, parts.values())) == 3 for parts in out.values())


def test_a_member_gets_only_topics_it_subscribes_to() -> None:
    out = given({"a": ("host:1", ["ideas"]), "b": ("host:2", ["ideas", "validation"])})
    assert set(out["a"]) <= {"ideas"}
    assert out["b"]["validation"] == [0, 1, 2]


def test_the_instance_id_travels_in_the_subscription() -> None:
    meta = ByInstanceAssignor("host:50052").metadata(["b", "a"])
    assert isinstance(meta, ConsumerProtocolMemberMetadata)
    assert meta.user_data == b"host:50052"
    assert meta.subscription == ["a", "b"]
    # A dynamic member sends none, and is ordered by member id after the static ones.
    assert ByInstanceAssignor(None).metadata(["a"]).user_data == b""
    out = given({"dynamic": ("", ["ideas"]), "static": ("host:2", ["ideas"])})
    assert out["static"] == {"ideas": [0, 2]}
