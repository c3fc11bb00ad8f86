"""Inbound webhooks as data: which request a payload becomes, and whether it is signed.

Pure (no I/O). An endpoint's mapping is a list of (request field, source) pairs: the
field a dotted path into SubmitIdeaRequest or EndorseIdeaRequest (`title`,
`submitted_by.member_id`), the source a JSON pointer into the payload (RFC 6901,
`/ticket/subject`), a request header or a constant. `build` applies it to one payload
and answers the request, or every problem at once, each naming the payload's path.

Senders sign as Quorum signs its own webhooks (scheme v1): `Quorum-Timestamp` (Unix
seconds) and `Quorum-Signature: v1=<hex>`, HMAC-SHA256 keyed with the endpoint's
secret over `"<timestamp>.<raw body>"`; several comma-separated signatures may come
(one match is enough), so a sender can roll its secret over.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import FieldViolation

TIMESTAMP_HEADER = "Quorum-Timestamp"
SIGNATURE_HEADER = "Quorum-Signature"
DELIVERY_ID_HEADER = "Quorum-Delivery-Id"
TOLERANCE_SECONDS = 300
FIELDS_MAX = 32
POINTER_MAX = 500
HEADER_MAX = 100
CONSTANT_MAX = 1_000
DELIVERY_ID_MAX = 200
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Fields a payload never sets: the idempotency key is the delivery id's, and a sender
# cannot know an idea's version.
_NEVER_MAPPED = frozenset({"request_id", "expected_version"})


class Action(StrEnum):
    SUBMIT_IDEA = "SUBMIT_IDEA"
    ENDORSE_IDEA = "ENDORSE_IDEA"


REQUESTS: dict[Action, type[Message]] = {
    Action.SUBMIT_IDEA: gateway_pb2.SubmitIdeaRequest,
    Action.ENDORSE_IDEA: gateway_pb2.EndorseIdeaRequest,
}
METHODS = {
    Action.SUBMIT_IDEA: "/quorum.gateway.v1.IdeasService/SubmitIdea",
    Action.ENDORSE_IDEA: "/quorum.gateway.v1.IdeasService/EndorseIdea",
}


@dataclass(frozen=True)
class Source:
    """Exactly one of pointer, header, constant is set."""

    pointer: str = ""
    header: str = ""
    constant: str | None = None

    def describe(self) -> str:
        if self.pointer:
            return self.pointer
        if self.header:
            return f"header {self.header}"
        return "constant"


@dataclass(frozen=True)
class FieldMap:
    field: str
    source: Source
    optional: bool = False


def leaf_fields(descriptor: Any, prefix: str = "") -> dict[str, FieldDescriptor]:
    """Every dotted path to a scalar, enum or list-of-scalars field a mapping may fill."""
    found: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        path = f"{prefix}{field.name}"
        if field.name in _NEVER_MAPPED:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if not field.is_repeated:
                found.update(leaf_fields(field.message_type, f"{path}."))
            continue
        found[path] = field
    return found


def check_pointer(pointer: str) -> str | None:
    if not pointer.startswith("/") or len(pointer) > POINTER_MAX:
        return f"must be a JSON pointer like /ticket/subject (at most {POINTER_MAX} characters)"
    if re.search(r"~(?![01])", pointer):
        return "has a ~ not followed by 0 or 1 (RFC 6901 escapes ~ as ~0 and / as ~1)"
    return None


def check_header(name: str) -> str | None:
    if not name or len(name) > HEADER_MAX or not _HEADER_NAME.match(name):
        return f"must be an HTTP header name (at most {HEADER_MAX} characters)"
    return None


def check_source(source: Source, *, constant_allowed: bool = True) -> str | None:
    if source.pointer:
        return check_pointer(source.pointer)
    if source.header:
        return check_header(source.header)
    if source.constant is not None and constant_allowed:
        if len(source.constant) > CONSTANT_MAX:
            return f"must be at most {CONSTANT_MAX} characters"
        return None
    return "needs a pointer or a header" + (" or a constant" if constant_allowed else "")


def check_mapping(action: Action, fields: Sequence[FieldMap]) -> list[FieldViolation]:
    """What is wrong with a mapping, each problem naming `fields[i]...`."""
    problems: list[FieldViolation] = []
    leaves = leaf_fields(REQUESTS[action].DESCRIPTOR)
    if len(fields) > FIELDS_MAX:
        problems.append(FieldViolation("fields", f"at most {FIELDS_MAX}"))
        return problems
    seen: set[str] = set()
    for index, mapped in enumerate(fields):
        where = f"fields[{index}]"
        if mapped.field not in leaves:
            problems.append(
                FieldViolation(
                    f"{where}.field",
                    f"must be a field of {REQUESTS[action].DESCRIPTOR.name}: "
                    + ", ".join(sorted(leaves)),
                )
            )
        elif mapped.field in seen:
            problems.append(FieldViolation(f"{where}.field", "is mapped twice"))
        seen.add(mapped.field)
        problem = check_source(mapped.source)
        if problem is not None:
            problems.append(FieldViolation(f"{where}.value", problem))
    return problems


# --- one payload --------------------------------------------------------------------


class Missing(Exception):
    pass


def resolve(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer; Missing when the payload has none there.

    Written out (a dozen lines) rather than taken from a library: the error must say
    how far the path got, and the pointer grammar is this small.
    """
    value = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise Missing(pointer)
    return value


def _coerce(field: FieldDescriptor, value: Any, where: str) -> tuple[Any, str | None]:
    """The JSON value json_format expects for the field, or what is wrong with it."""
    if field.is_repeated:
        items = value if isinstance(value, list) else [value]
        converted = []
        for item in items:
            one, problem = _coerce_one(field, item, where)
            if problem is not None:
                return None, problem
            converted.append(one)
        return converted, None
    return _coerce_one(field, value, where)


def _coerce_one(field: FieldDescriptor, value: Any, where: str) -> tuple[Any, str | None]:
    if value is None or isinstance(value, (dict, list)):
        return (
            None,
            f"must be a {'string' if _is_text(field) else 'value'}, not {_json_kind(value)}",
        )
    if _is_text(field) and isinstance(value, (int, float)) and not isinstance(value, bool):
        # Ticket and contact ids often arrive as numbers.
        return str(value), None
    return value, None


def _is_text(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_STRING


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else "a list"


def _constant(field: FieldDescriptor, constant: str) -> Any:
    if _is_text(field) or field.type == FieldDescriptor.TYPE_ENUM:
        return constant
    try:
        return json.loads(constant)
    except ValueError:
        return constant


def _place(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value


@dataclass(frozen=True)
class Built:
    request: Message | None
    problems: list[FieldViolation]


def source_value(source: Source, payload: Any, headers: Mapping[str, str]) -> Any:
    if source.pointer:
        found = resolve(payload, source.pointer)
        if found is None:
            # Help desks send null for a field left empty: the same as absent.
            raise Missing(source.pointer)
        return found
    if source.header:
        found = headers.get(source.header.lower())
        if found is None:
            raise Missing(source.header)
        return found
    return source.constant


def build(
    action: Action, fields: Sequence[FieldMap], payload: Any, headers: Mapping[str, str]
) -> Built:
    """The request the payload maps to, or every problem, naming the payload's paths."""
    leaves = leaf_fields(REQUESTS[action].DESCRIPTOR)
    problems: list[FieldViolation] = []
    wanted: dict[str, Any] = {}
    for mapped in fields:
        field = leaves[mapped.field]
        where = mapped.source.describe()
        try:
            raw = source_value(mapped.source, payload, headers)
        except Missing:
            if not mapped.optional:
                problems.append(FieldViolation(where, f"is missing (it fills {mapped.field})"))
            continue
        if mapped.source.constant is not None:
            raw = _constant(field, mapped.source.constant)
        value, problem = _coerce(field, raw, where)
        if problem is not None:
            problems.append(FieldViolation(where, f"{problem} (it fills {mapped.field})"))
            continue
        _place(wanted, mapped.field, value)
    if problems:
        return Built(None, problems)
    request = REQUESTS[action]()
    try:
        json_format.ParseDict(wanted, request)
    except json_format.ParseError as error:
        return Built(None, [FieldViolation("body", f"does not make a valid request: {error}")])
    return Built(request, [])


def delivery_id_of(
    source: Source, payload: Any, headers: Mapping[str, str]
) -> str | FieldViolation:
    where = source.describe()
    try:
        value = source_value(source, payload, headers)
    except Missing:
        return FieldViolation(where, "is missing (the sender's delivery id)")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > DELIVERY_ID_MAX:
        return FieldViolation(
            where, f"must be the sender's delivery id, 1-{DELIVERY_ID_MAX} characters"
        )
    return value.strip()


def explain(problems: Sequence[FieldViolation], fields: Sequence[FieldMap]) -> list[FieldViolation]:
    """A refusal of the built request, its fields renamed to the payload's paths they came from."""
    origin = {m.field: m.source.describe() for m in fields}
    explained = []
    for problem in problems:
        base = re.sub(r"\[\d+\]", "", problem.field)
        if base in origin:
            explained.append(
                FieldViolation(origin[base], f"{problem.description} (it fills {problem.field})")
            )
        else:
            explained.append(
                FieldViolation(problem.field, f"{problem.description} (not mapped by the endpoint)")
            )
    return explained


# --- signatures ---------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> FieldViolation | None:
    """Why a request is not signed with the secret within the tolerance; None when it is."""
    stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    given = headers.get(SIGNATURE_HEADER.lower(), "")
    if not given:
        return FieldViolation(
            SIGNATURE_HEADER, "is missing: the endpoint accepts signed requests only"
        )
    if not stamp.isdigit() or len(stamp) > 12:
        return FieldViolation(TIMESTAMP_HEADER, "must be the Unix time in seconds it was signed at")
    if abs(now - int(stamp)) > TOLERANCE_SECONDS:
        return FieldViolation(
            TIMESTAMP_HEADER,
            f"is more than {TOLERANCE_SECONDS} s from now (a replay or a wrong clock)",
        )
    expected = sign(secret, int(stamp), body)
    if not any(hmac.compare_digest(expected, s.strip()) for s in given.split(",")):
        return FieldViolation(
            SIGNATURE_HEADER, "does not match the body and timestamp (wrong secret?)"
        )
    return None


def signature_mark(endpoint_id: str, headers: Mapping[str, str]) -> str:
    """What identifies one signed request, so the same one is never taken for a new delivery."""
    stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    given = headers.get(SIGNATURE_HEADER.lower(), "")
    return hashlib.sha256(f"{endpoint_id}\n{stamp}\n{given}".encode()).hexdigest()
