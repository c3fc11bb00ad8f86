"""The AsyncAPI document of the Kafka events: current, valid AsyncAPI 3, and true to the code.

Valid: it passes the AsyncAPI 3.0.0 JSON Schema published by the AsyncAPI initiative
(npm `@asyncapi/specs`, installed by `make install`), every `$ref` resolves, and every
operation sends or receives only messages of its own channel (a rule of the
specification that the JSON Schema cannot say). True: an event of every payload type,
every field filled, passes its message's payload schema in proto3 JSON, its headers
(as the outbox writes them) pass the headers schema, and its key is what the document
says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from quorum.events.v1 import events_pb2
from quorum_common import events
from quorum_devtools import asyncapi, protogen
from support import asyncapi as support_asyncapi

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = support_asyncapi.DOCUMENT
SPEC = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
FD = FieldDescriptor
UNSIGNED = {FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_FIXED32, FD.TYPE_FIXED64}
# 64-bit integers are strings in proto3 JSON: a value past 2**32 shows which form was used.
WIDE = {FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return support_asyncapi.load()


def test_the_committed_document_is_what_the_protos_and_the_code_give() -> None:
    protos = sorted(
        str(p.relative_to(protogen.PROTO_DIR)) for p in protogen.PROTO_DIR.rglob("*.proto")
    )
    assert DOCUMENT.read_text() == asyncapi.render(protogen.described(protos)), (
        "asyncapi.json is stale: run `make proto` and commit"
    )


def test_it_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    assert SPEC.exists(), "node_modules/@asyncapi/specs is missing: run `make install`"
    validator = jsonschema.Draft7Validator(json.loads(SPEC.read_text()))
    problems = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert not problems, problems
    assert document["asyncapi"].startswith("3.")


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_resolves_and_operations_keep_to_their_channel(
    document: dict[str, Any],
) -> None:
    for ref in _refs(document):
        _resolve(document, ref)
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel}/messages/"), (name, message)


def test_every_topic_the_services_use_is_a_channel(document: dict[str, Any]) -> None:
    topics = events.Topics()
    addresses = {channel["address"] for channel in document["channels"].values()}
    used = {topics.ideas, topics.validation, topics.notifications}
    used |= {topics.dead_letter(c.name) for c in asyncapi.CONSUMERS}
    used.add(topics.dead_letter("notifications.deliveries"))
    assert used == addresses


def _filled(message: Message, depth: int = 0) -> None:
    """Every field of the message set to something other than its default."""
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and field.containing_oneof.name == "payload":
            continue
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.full_name == "google.protobuf.Timestamp":
                target = (
                    getattr(message, field.name).add() if repeated else getattr(message, field.name)
                )
                target.FromJsonString("2026-01-02T03:04:05.678Z")
            elif field.message_type.GetOptions().map_entry:
                continue
            elif depth < 4:
                target = (
                    getattr(message, field.name).add() if repeated else getattr(message, field.name)
                )
                _filled(target, depth + 1)
                target.SetInParent()
            continue
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            value: Any = field.enum_type.values[-1].number
        elif field.type == FieldDescriptor.TYPE_STRING:
            value = "2b7c0e8e-6c5f-4c55-9d7e-0f6a8f0f4c11"
        elif field.type == FieldDescriptor.TYPE_BOOL:
            value = True
        elif field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            value = 0.5
        elif field.type == FieldDescriptor.TYPE_BYTES:
            value = b"\x01"
        elif field.type in UNSIGNED:
            value = 2**40 if field.type in WIDE else 7
        else:
            value = -(2**40) if field.type in WIDE else -7
        if repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)


def _event(kind: str) -> events_pb2.Event:
    event = events.new_event(
        tenant_id="acme", idea_id="2b7c0e8e-6c5f-4c55-9d7e-0f6a8f0f4c11", producer="x"
    )
    field = next(
        f
        for f in event.DESCRIPTOR.oneofs_by_name["payload"].fields
        if f.message_type is not None and f.message_type.name == kind
    )
    payload = getattr(event, field.name)
    _filled(payload)
    payload.SetInParent()
    return event


@pytest.mark.parametrize("kind", sorted(k for kinds in asyncapi.PUBLISHES.values() for k in kinds))
def test_an_event_of_every_kind_is_what_its_message_says(
    document: dict[str, Any], kind: str
) -> None:
    message = document["components"]["messages"][kind]

    def check(instance: Any, schema: dict[str, Any]) -> None:
        problems = support_asyncapi.violations(document, schema, instance)
        assert not problems, problems

    event = _event(kind)
    check(json_format.MessageToDict(event), message["payload"])
    check(events.headers(event), message["headers"])
    assert event.envelope.idea_id  # the key the outbox gives it
    check(event.envelope.idea_id, message["bindings"]["kafka"]["key"])
    other = json_format.MessageToDict(_event(kind))
    other["unexpected"] = 1
    with pytest.raises(AssertionError):
        check(other, message["payload"])


def test_the_readmes_topic_table_says_what_the_document_says(document: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Events on Kafka", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("` "): {p.strip() for p in cells[2].split(",")}
        for line in section.splitlines()
        if line.startswith("| `quorum.") and "<" not in line.split("|")[1]
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    for channel in document["channels"].values():
        if "dlq" in channel["address"]:
            continue
        assert rows.pop(channel["address"]) == set(channel["messages"]), channel["address"]
    assert set(rows) == {"quorum.notifications.deliveries.dlq.v1"}
