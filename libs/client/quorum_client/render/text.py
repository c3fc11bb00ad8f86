"""The small words every table is made of: enum labels, times, numbers, members.

Every piece of user-supplied text goes through `Text` (never markup), so a title
such as "[urgent] export" prints as written instead of being read as a style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from rich import box
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2

YES = "yes"
NO = "no"


def enum_prefix(descriptor: EnumDescriptor) -> str:
    """IMPORTANCE_ for Importance: what the names of the contract's enum values start with."""
    unspecified = descriptor.values_by_number.get(0)
    return unspecified.name.removesuffix("UNSPECIFIED") if unspecified is not None else ""


def label(descriptor: EnumDescriptor, value: int) -> str:
    """IMPORTANCE_NICE_TO_HAVE → "nice-to-have"; the UNSPECIFIED value → "-"."""
    found = descriptor.values_by_number.get(value)
    if found is None:
        return str(value)
    if value == 0:
        return "-"
    return found.name.removeprefix(enum_prefix(descriptor)).lower().replace("_", "-")


def importance(value: int) -> str:
    return label(domain_pb2.Importance.DESCRIPTOR, value)


def status(value: int) -> str:
    return label(domain_pb2.IdeaStatus.DESCRIPTOR, value)


def role(value: int) -> str:
    return label(gateway_pb2.Role.DESCRIPTOR, value)


def relationship(value: int) -> str:
    return label(domain_pb2.Relationship.DESCRIPTOR, value)


def weighting(value: int) -> str:
    return label(domain_pb2.Weighting.DESCRIPTOR, value)


def commitments(values: Iterable[int]) -> str:
    return ", ".join(label(domain_pb2.Commitment.DESCRIPTOR, v) for v in values) or "-"


def timestamp(value: Timestamp) -> str:
    if value.seconds == 0 and value.nanos == 0:
        return "-"
    return value.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3g}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def member(ref: domain_pb2.MemberRef) -> str:
    if not ref.organization_id and not ref.member_id:
        return "-"
    return f"{ref.member_id or '?'} @ {ref.organization_id or '?'}"


def arr(value: int) -> str:
    # ARR travels in minor units (cents); thousands separators make 10x visible.
    return f"{value:,}"


# An idea id (a UUID) in full: columns holding one are at least this wide.
ID_WIDTH = 36


def day(value: Timestamp) -> str:
    """The date alone, for tables where the second does not matter."""
    return timestamp(value)[:10]


def plain_table(title: str | None = None) -> Table:
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
    )


def field_grid(rows: Sequence[tuple[str, str | Text]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, value if isinstance(value, Text) else Text(value))
    return grid
