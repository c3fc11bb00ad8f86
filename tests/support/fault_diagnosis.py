"""Why the stage ledger is behind, when a fault run ends with it behind.

A ledger that never caught up with an idea shows through the public API only as
GetGateReport answering UNAVAILABLE ("not yet caught up"), which says nothing of the
cause. These are the facts that tell the causes apart, gathered once the run has
failed: which ideas are behind and by how many versions (the ideas service's version
against the version the ledger folded), how far the validation consumer group has
committed on each partition of the ideas topic against the partition's end, which
partitions the broker records for each member of the group, and which versions of
each idea behind the topic holds. A partition whose committed offset stays below its
end with no member assigned it had no reader; an idea whose versions are all in the
topic while the group read past them was skipped by the consumer; a version missing
from the topic was lost by the broker and not published again by the relays.
"""

from __future__ import annotations

import contextlib

import grpc
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocol

from quorum.gateway.v1 import gateway_pb2
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common.events import Topics, decode
from quorum_common.kafka import PARTITIONS
from quorum_devtools import platform
from quorum_devtools.bench_platform import Caller
from quorum_validation.handler import told_version

CALL_TIMEOUT = 10.0


async def why_the_ledger_is_behind(
    caller: Caller, tenant_id: str, idea_ids: list[str], settings: platform.Platform
) -> dict[str, object]:
    """The ideas the ledger is behind on, and the validation group's reading of the
    ideas topic (see the module); every part that cannot be read says why instead."""
    found: dict[str, object] = {}
    try:
        found["behind"] = await _ideas_behind(caller, tenant_id, idea_ids, settings)
    except grpc.aio.AioRpcError as error:
        found["behind"] = f"not read: {error.code().name} {error.details()}"
    group = f"{Topics(settings.topic_prefix).prefix}quorum-validation"
    topic = Topics(settings.topic_prefix).ideas
    try:
        found["group"] = await _group_reading(settings.kafka_bootstrap_servers, group, topic)
    except Exception as error:  # a diagnosis must not hide the failure it explains
        found["group"] = f"not read: {error!r}"
    behind = found["behind"]
    if isinstance(behind, dict) and behind:
        try:
            found["in the topic"] = await _versions_in_topic(
                settings.kafka_bootstrap_servers, topic, set(behind)
            )
        except Exception as error:
            found["in the topic"] = f"not read: {error!r}"
    return found


async def _ideas_behind(
    caller: Caller, tenant_id: str, idea_ids: list[str], settings: platform.Platform
) -> dict[str, str]:
    versions = {}
    for idea_id in idea_ids:
        answer = await caller.ideas.GetIdea(
            gateway_pb2.GetIdeaRequest(idea_id=idea_id),
            metadata=caller.metadata,
            timeout=CALL_TIMEOUT,
        )
        versions[idea_id] = answer.idea.version
    async with grpc.aio.insecure_channel(settings.target("validation")) as channel:
        gates = validation_pb2_grpc.GateServiceStub(channel)
        progress = await gates.ListIdeaProgress(
            validation_pb2.ListIdeaProgressRequest(tenant_id=tenant_id, idea_ids=idea_ids),
            timeout=CALL_TIMEOUT,
        )
    folded = {p.idea_id: p.idea_version for p in progress.ideas}
    return {
        idea_id: f"ideas v{version}, ledger v{folded.get(idea_id, 'none')}"
        for idea_id, version in versions.items()
        if folded.get(idea_id, 0) < version
    }


async def _group_reading(bootstrap_servers: str, group: str, topic: str) -> dict[str, object]:
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await reader.start()
    try:
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        members = await _members(admin, group, topic)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return {
        "committed/end": {
            tp.partition: f"{committed[tp].offset if tp in committed else '-'}/{ends[tp]}"
            for tp in partitions
        },
        "members": members,
    }


async def _versions_in_topic(
    bootstrap_servers: str, topic: str, idea_ids: set[str]
) -> dict[str, str]:
    """The idea versions the topic's events tell of these ideas, with their partition
    and offset (the whole topic is read: a fault run's is small)."""
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await reader.start()
    told: dict[str, list[str]] = {idea_id: [] for idea_id in idea_ids}
    try:
        ends = await reader.end_offsets(partitions)
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        open_ = {tp for tp in partitions if ends[tp] > 0}
        while open_:
            fetched = await reader.getmany(*open_, timeout_ms=1000)
            if not fetched:
                break
            for tp, records in fetched.items():
                for record in records:
                    event = decode(bytes(record.value or b""))
                    if event.envelope.idea_id in told:
                        told[event.envelope.idea_id].append(
                            f"v{told_version(event)}@{tp.partition}:{record.offset}"
                        )
                if records and records[-1].offset >= ends[tp] - 1:
                    open_.discard(tp)
    finally:
        await reader.stop()
    return {idea_id: " ".join(versions) for idea_id, versions in told.items()}


async def _members(admin: AIOKafkaAdminClient, group: str, topic: str) -> dict[str, object]:
    """Each member's partitions of `topic` as the broker records them, by instance id
    (which the assignor sends in the subscription's user data)."""
    described = await admin.describe_consumer_groups([group])
    members: dict[str, object] = {}
    for response in described:
        for entry in response.groups:
            # (error_code, group, state, protocol_type, protocol, members, ...)
            members["state"] = entry[2]
            for member in entry[5]:
                # (member_id, client_id, client_host, metadata, assignment) up to v3
                try:
                    metadata = ConsumerProtocol.METADATA.decode(member[-2])
                    assignment = ConsumerProtocol.ASSIGNMENT.decode(member[-1])
                except Exception as error:  # an undecodable member is itself a finding
                    members[str(member[0])] = f"undecodable: {error!r}"
                    continue
                instance = bytes(metadata.user_data or b"").decode(errors="replace")
                owned = [sorted(parts) for name, parts in assignment.assignment if name == topic]
                members[instance or str(member[0])] = owned[0] if owned else []
    return members
