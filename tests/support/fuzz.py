"""Hostile requests for every RPC of the public API, generated from the descriptors.

`rpcs()` lists every method of every service in quorum.gateway.v1, so a new RPC is
fuzzed without anyone adding it here. For each one `cases()` builds a request that is
valid-ish (`baseline`: fields filled from their names with the fixture's ids) and
then hostile variants, one field at a time: extreme numbers in every numeric field
(walking nested messages), unknown enum numbers, huge and NUL-bearing strings, huge
repeated fields; and whole-message ones: undecodable and truncated bytes, no key.
Every case is raw bytes, sent with `request_serializer=None`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from quorum.gateway.v1 import gateway_pb2

# Under the gateway's message limit (1 MiB by default), far over every field's own.
HUGE_STRING = 300_000
HUGE_REPEATED = 20_000
# Deep enough for GatePolicy.council_approval.council_id and Subscriber.member.member_id.
DEPTH = 4
UNDECODABLE = (
    b"\xff\xff\xff\xff\x0f",  # field number 0 / wire type 7: never valid
    b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the end
    b"\x80",  # a varint that never ends
    b"\x0a\x02\xff\xfe",  # a string field with bad UTF-8
)

_INT_MAX = {
    FieldDescriptor.TYPE_INT32: 2**31 - 1,
    FieldDescriptor.TYPE_SINT32: 2**31 - 1,
    FieldDescriptor.TYPE_SFIXED32: 2**31 - 1,
    FieldDescriptor.TYPE_UINT32: 2**32 - 1,
    FieldDescriptor.TYPE_FIXED32: 2**32 - 1,
    FieldDescriptor.TYPE_INT64: 2**63 - 1,
    FieldDescriptor.TYPE_SINT64: 2**63 - 1,
    FieldDescriptor.TYPE_SFIXED64: 2**63 - 1,
    FieldDescriptor.TYPE_UINT64: 2**64 - 1,
    FieldDescriptor.TYPE_FIXED64: 2**64 - 1,
}
_UNSIGNED = {
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
_FLOATS = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
EXTREME_FLOATS = (0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e308)


@dataclass(frozen=True)
class Rpc:
    path: str  # "/quorum.gateway.v1.IdeasService/SubmitIdea"
    request: type[Message]
    streaming: bool

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Case:
    rpc: Rpc
    label: str
    raw: bytes
    keyed: bool = True
    # One field changed (sampled in the short run); else a whole-message case (always run).
    one_field: bool = False

    def __str__(self) -> str:
        key = "" if self.keyed else " (no key)"
        return f"{self.rpc.name} {self.label}{key}"


def rpcs() -> list[Rpc]:
    """Every method of the public API, from the descriptor pool."""
    found = []
    for service in gateway_pb2.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            found.append(
                Rpc(
                    path=f"/{service.full_name}/{method.name}",
                    request=message_factory.GetMessageClass(method.input_type),
                    streaming=method.server_streaming,
                )
            )
    return found


# An id of the right shape that names nothing.
_MADE_UP = str(uuid.UUID(int=7))


@dataclass(frozen=True)
class Seeds:
    """What exists on the platform under test, for requests that name real things."""

    idea_id: str  # the idea write calls act on (declined, merged, advanced ...)
    kept_idea_id: str  # never changed by a baseline: the state checked at the end
    organization_id: str
    peer_organization_id: str
    council_id: str

    def strings(self) -> Mapping[str, str]:
        text = "A reason that is long enough to be a justification, for the fuzz test."
        return {
            "idea_id": self.idea_id,
            "source_idea_id": self.idea_id,
            "target_idea_id": self.kept_idea_id,
            "organization_id": self.organization_id,
            "peer_organization_id": self.peer_organization_id,
            "member_organization_id": self.organization_id,
            "council_id": self.council_id,
            "member_id": "fuzz-member",
            "stage": "DISCOVERY",
            "target_stage": "DISCOVERY",
            "cursor": "0",
            "principal_id": "fuzz-principal",
            "display_name": "Fuzz",
            "title": "A fuzzed idea title",
            "problem": "A fuzzed problem statement that says what hurts.",
            "product_area": "reporting",
            "tag": "fuzz",
            "name": "Fuzz Org",
            "segment": "retail",
            "key_id": "no-such-key",
            # Loopback only: the fuzz test must never make the platform call out.
            "url": "https://127.0.0.1:9/hook",
            "address": "fuzz@example.invalid",
            "contact": "fuzz@example.invalid",
            **dict.fromkeys(("reason", "justification", "message", "comment"), text),
            **dict.fromkeys(("charter", "impact", "description"), text),
            **dict.fromkeys(
                ("subscription_id", "event_id", "introduction_id"), str(uuid.UUID(int=7))
            ),
        }


_NUMBERS = {
    "page_size": 10,
    "limit": 5,
    "count": 1,
    "quorum": 0.5,
    "max_share": 0.5,
    "min_customers": 1,
    "arr": 1_000_000,
    "active": 1.0,
    "prospect": 0.5,
    "churned": 0.5,
}
# Repeated strings a baseline leaves empty: a WatchEvents filter on a made-up kind
# would match nothing and the stream would wait for ever.
_LEFT_EMPTY = {"kinds", "page_token", "secret"}


def _fill(message: Message, seeds: Mapping[str, str], depth: int) -> None:
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and message.WhichOneof(oneof.name) is not None:
            continue  # one member of a oneof
        if field.name in _LEFT_EMPTY:
            continue
        value: object
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.full_name == "google.protobuf.Timestamp" or depth <= 0:
                continue
            if field.is_repeated:
                _fill(getattr(message, field.name).add(), seeds, depth - 1)
            else:
                _fill(getattr(message, field.name), seeds, depth - 1)
            continue
        if field.type == FieldDescriptor.TYPE_STRING:
            value = seeds.get(field.name.removesuffix("s"), seeds.get(field.name, "fuzz"))
        elif field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            value = next(v.number for v in field.enum_type.values if v.number != 0)
        elif field.type == FieldDescriptor.TYPE_BOOL:
            continue
        else:
            value = _NUMBERS.get(field.name, 0)
            if field.type in _FLOATS:
                value = float(value)
        if field.is_repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)


def baseline(rpc: Rpc, seeds: Seeds) -> Message:
    request = rpc.request()
    _fill(request, seeds.strings(), DEPTH)
    return request


def _paths(
    message: Message, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every field of the message's type (set or not), with its path, below set messages."""
    for field in message.DESCRIPTOR.fields:
        path = (*prefix, field.name)
        yield path, field
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        assert field.message_type is not None
        if field.message_type.full_name == "google.protobuf.Timestamp":
            continue
        if field.is_repeated:
            items = getattr(message, field.name)
            if len(items):
                yield from _paths(items[0], (*path, 0))
        elif message.HasField(field.name):
            yield from _paths(getattr(message, field.name), path)


def _label(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _at(message: Message, path: tuple[str | int, ...]) -> tuple[Message, str]:
    """The message holding the last field of `path`, and that field's name."""
    holder: object = message
    for part in path[:-1]:
        holder = holder[part] if isinstance(part, int) else getattr(holder, part)  # type: ignore[index]
    assert isinstance(holder, Message)
    last = path[-1]
    assert isinstance(last, str)
    return holder, last


def _values(field: FieldDescriptor) -> list[tuple[str, object]]:
    kind = field.type
    if kind in _FLOATS:
        return [(repr(v), v) for v in EXTREME_FLOATS]
    if kind in _INT_MAX:
        top = _INT_MAX[kind]
        values = [0, top] if kind in _UNSIGNED else [0, -1, top, -top - 1]
        return [(str(v), v) for v in values]
    if kind == FieldDescriptor.TYPE_ENUM:
        return [("unknown enum 2147483647", 2**31 - 1), ("unknown enum -5", -5), ("0", 0)]
    if kind == FieldDescriptor.TYPE_STRING:
        return [
            (f"{HUGE_STRING} characters", "x" * HUGE_STRING),
            # Over most fields' own limits, under the common one: each field's rule speaks.
            ("1,000 characters", "y" * 1_000),
            ("with NUL", "a\x00b"),
            ("empty", ""),
            ("blank", "   "),
            # Numbers in strings (cursors, page tokens): past 64 bits, negative, a digit
            # that str.isdigit() accepts and int() does not.
            ("23 digits", "9" * 23),
            ("-1", "-1"),
            ("superscript two", "\u00b2"),
        ]
    return []


def _variant(
    request: Message, path: tuple[str | int, ...], field: FieldDescriptor, value: object
) -> bytes | None:
    copy = request.__class__()
    copy.CopyFrom(request)
    holder, name = _at(copy, path)
    target = getattr(holder, name)
    try:
        if field.is_repeated:
            del target[:]
            if field.type != FieldDescriptor.TYPE_MESSAGE:
                target.append(value)
        else:
            setattr(holder, name, value)
    except (TypeError, ValueError):
        return None  # a value this field's type cannot hold (a float32 of 1e308)
    return copy.SerializeToString()


def _huge_repeated(request: Message, path: tuple[str | int, ...], field: FieldDescriptor) -> bytes:
    copy = request.__class__()
    copy.CopyFrom(request)
    holder, name = _at(copy, path)
    target = getattr(holder, name)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        model = target[0] if len(target) else None
        for _ in range(HUGE_REPEATED):
            added = target.add()
            if model is not None:
                added.CopyFrom(model)
    else:
        sample = {FieldDescriptor.TYPE_STRING: "x", FieldDescriptor.TYPE_BOOL: True}
        filler = sample.get(field.type, 1.0 if field.type in _FLOATS else 1)
        target.extend([filler] * HUGE_REPEATED)
    return copy.SerializeToString()


def _decodable(rpc: Rpc, raw: bytes) -> str:
    """ "undecodable" when these bytes are not the request's message (here, locally)."""
    try:
        rpc.request.FromString(raw)
    except DecodeError:
        return "undecodable"
    return "decodable"  # e.g. bad UTF-8 in a field this message does not have


def cases(rpc: Rpc, seeds: Seeds) -> list[Case]:
    """Every hostile case of one RPC: whole-message ones first, then field by field."""
    request = baseline(rpc, seeds)
    good = request.SerializeToString()
    found = [
        Case(rpc, "baseline", good),
        Case(rpc, "baseline", good, keyed=False),
        Case(rpc, "undecodable", UNDECODABLE[0], keyed=False),
        *(Case(rpc, f"{_decodable(rpc, raw)} {raw!r}", raw) for raw in UNDECODABLE),
    ]
    if len(good) > 1:
        found.append(Case(rpc, "truncated by one byte", good[:-1]))
        found.append(Case(rpc, "truncated by half", good[: len(good) // 2]))
    for path, field in _paths(request):
        label = _label(path)
        for shown, value in _values(field):
            raw = _variant(request, path, field, value)
            if raw is not None:
                found.append(Case(rpc, f"{label}={shown}", raw, one_field=True))
        if field.is_repeated:
            raw = _huge_repeated(request, path, field)
            found.append(Case(rpc, f"{label} x{HUGE_REPEATED}", raw, one_field=True))
    return found


def sample(found: list[Case], budget: int, seed: int) -> list[Case]:
    """The whole-message cases and `budget` of the field cases, the same every run."""
    fixed = [c for c in found if not c.one_field]
    fields = [c for c in found if c.one_field]
    if len(fields) > budget:
        fields = random.Random(seed).sample(fields, budget)
    return fixed + fields


def scrambled(rpc: Rpc, seeds: Seeds, count: int, seed: int) -> list[Case]:
    """`count` byte-level mutations of the baseline (the long run): flips, cuts, splices."""
    chance = random.Random(seed)
    good = bytearray(baseline(rpc, seeds).SerializeToString())
    found = []
    for index in range(count):
        raw = bytearray(good)
        for _ in range(chance.randint(1, 4)):
            where = chance.randrange(len(raw) + 1)
            action = chance.choice(("flip", "cut", "splice"))
            if action == "flip" and where < len(raw):
                raw[where] ^= 1 << chance.randrange(8)
            elif action == "cut":
                del raw[where : where + chance.randint(1, 8)]
            else:
                raw[where:where] = chance.randbytes(chance.randint(1, 8))
        found.append(Case(rpc, f"scrambled #{index} (seed {seed})", bytes(raw), one_field=True))
    return found
