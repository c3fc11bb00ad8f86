"""Checking instances and Kafka records against the AsyncAPI document of the events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from google.protobuf import json_format

from quorum.events.v1 import events_pb2

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "libs" / "contracts" / "quorum" / "events" / "v1" / "asyncapi.json"


def load() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


def violations(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """What in `instance` the schema refuses, `$ref`s resolved in the document."""
    # The schemas point into the document's components: validate from a root that has them.
    validator = jsonschema.Draft7Validator(
        {"components": document["components"], "allOf": [schema]},
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(instance)]


def record_violations(document: dict[str, Any], prefix: str, record: Any) -> list[str]:
    """What about one Kafka record (aiokafka's ConsumerRecord) the document does not say."""
    where = f"{record.topic}@{record.offset}"
    address = str(record.topic).removeprefix(prefix)
    channels = [c for c in document["channels"].values() if c["address"] == address]
    if len(channels) != 1:
        return [f"{where}: no channel for topic {address}"]
    headers = {k: v.decode() for k, v in record.headers or ()}
    kind = headers.get("quorum-event-type", "")
    if kind not in channels[0]["messages"]:
        return [f"{where}: {kind!r} is not a message of {address}"]
    message = document["components"]["messages"][kind]
    event = events_pb2.Event.FromString(record.value)
    found = [f"{where} headers {p}" for p in violations(document, message["headers"], headers)]
    payload = json_format.MessageToDict(event)
    found += [f"{where} payload {p}" for p in violations(document, message["payload"], payload)]
    key = record.key.decode()
    found += [
        f"{where} key {p}" for p in violations(document, message["bindings"]["kafka"]["key"], key)
    ]
    if key != (event.envelope.idea_id or event.envelope.tenant_id):
        found.append(f"{where}: key {key!r} is neither the idea id nor the tenant id")
    return found
