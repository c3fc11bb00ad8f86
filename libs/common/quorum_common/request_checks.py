"""What every field of every request must be, whatever the method: checked by descriptor.

A request that decodes can still carry values no handler is written for: an enum
number the schema does not know, NaN, a 64-bit number MongoDB cannot store, a string
of megabytes, an identifier with a NUL in it, a Timestamp outside the calendar. Walking
the message's descriptor finds these in any field, also in fields added later; each
becomes a FieldViolation naming the field's path (`policy.min_commitments[0].count`).
The rules of one method (a stage that must exist, an idea id that must be a UUID) stay
with the method.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from quorum_common.errors import Violations

# Longer than any text field's own limit (an idea's problem: 10,000 characters), so a
# field's own rule names its limit; this one only bounds what a handler ever sees.
STRING_MAX = 20_000
# More entries than any list a request may have (a council's 500 members).
REPEATED_MAX = 1_000
# MongoDB stores integers as signed 64-bit numbers.
INTEGER_MAX = 2**63 - 1
# google.protobuf.Timestamp's own range: 0001-01-01 to 9999-12-31.
_SECONDS_MIN = -62_135_596_800
_SECONDS_MAX = 253_402_300_799
# Fields that are identifiers, tokens or names a query matches on: a NUL there is
# never meant and some stores cut the string at it.
_ID_NAMES = frozenset(
    {"id", "stage", "stages", "cursor", "kinds", "tag", "tags", "page_token", "segment"}
)
_ID_SUFFIXES = ("_id", "_ids", "_stage", "_token")
_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


def is_identifier(name: str) -> bool:
    return name in _ID_NAMES or name.endswith(_ID_SUFFIXES)


def _enum_names(enum: EnumDescriptor) -> str:
    names = [v.name for v in enum.values if v.number != 0]
    return ", ".join(names)


def _check_value(violations: Violations, path: str, field: FieldDescriptor, value: object) -> None:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        check_message(violations, value, path)
    elif kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        assert enum is not None
        assert isinstance(value, int)
        if value not in enum.values_by_number:
            violations.add(path, f"is not a known {enum.name} (one of {_enum_names(enum)})")
    elif kind == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str)
        if len(value) > STRING_MAX:
            violations.add(path, f"must be at most {STRING_MAX} characters")
        elif "\x00" in value and is_identifier(field.name):
            violations.add(path, "must not contain NUL")
    elif kind == FieldDescriptor.TYPE_BYTES:
        assert isinstance(value, bytes)
        if len(value) > STRING_MAX:
            violations.add(path, f"must be at most {STRING_MAX} bytes")
    elif kind in _FLOATS:
        assert isinstance(value, float)
        if not math.isfinite(value):
            violations.add(path, "must be a finite number")
    elif kind in _INTEGERS:
        assert isinstance(value, int)
        if value > INTEGER_MAX:
            violations.add(path, f"must be at most {INTEGER_MAX}")


def _check_timestamp(violations: Violations, message: Message, prefix: str) -> None:
    seconds = getattr(message, "seconds", 0)
    nanos = getattr(message, "nanos", 0)
    if not _SECONDS_MIN <= seconds <= _SECONDS_MAX or not 0 <= nanos <= 999_999_999:
        violations.add(prefix or "request", "must be a time between 0001 and 9999")


def check_message(violations: Violations, message: Message, prefix: str = "") -> None:
    """Add a violation for every field of `message` (and below) out of the common bounds."""
    if message.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        _check_timestamp(violations, message, prefix)
        return
    for field, value in message.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue  # no request has a map; keys would need paths of their own
            items: Iterable[object] = value
            count = len(value)
            if count > REPEATED_MAX:
                violations.add(path, f"at most {REPEATED_MAX} entries")
                continue
            for index, item in enumerate(items):
                _check_value(violations, f"{path}[{index}]", field, item)
        else:
            _check_value(violations, path, field, value)


def check_request(message: Message) -> None:
    """Raise InvalidArgument naming every field of `message` out of the common bounds."""
    violations = Violations()
    check_message(violations, message)
    violations.raise_if_any()
