"""The choices the contract's enums offer, as people type them, and back to the contract.

`nice-to-have` on the command line is IMPORTANCE_NICE_TO_HAVE on the wire: the value
of each choice is the enum's name without its prefix, lower-case, `-` for `_`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from quorum_client.render.text import enum_prefix

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

_V = TypeVar("_V", bound=int)


class Importance(StrEnum):
    NICE_TO_HAVE = "nice-to-have"
    IMPORTANT = "important"
    CRITICAL = "critical"


class Commitment(StrEnum):
    BETA_TESTER = "beta-tester"
    CO_DEVELOP = "co-develop"
    PREORDER = "preorder"


class Channel(StrEnum):
    PORTAL = "portal"
    API = "api"
    HELP_DESK = "help-desk"
    CRM = "crm"
    CHAT = "chat"
    EMAIL = "email"
    COUNCIL = "council"


class JobFunction(StrEnum):
    EXECUTIVE = "executive"
    TECHNICAL = "technical"
    FINANCIAL = "financial"
    OPERATIONS = "operations"
    PRODUCT = "product"
    OTHER = "other"


class Status(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    DECLINED = "declined"
    LAUNCHED = "launched"


class Relationship(StrEnum):
    ACTIVE = "active"
    PROSPECT = "prospect"
    CHURNED = "churned"


class Weighting(StrEnum):
    EQUAL = "equal"
    ARR_LOG = "arr-log"
    ARR_LINEAR = "arr-linear"


class Role(StrEnum):
    VENDOR_ADMIN = "vendor-admin"
    PRODUCT_MANAGER = "product-manager"
    CUSTOMER = "customer"
    INTEGRATION = "integration"


def wire(enum: _EnumTypeWrapper[_V], choice: StrEnum | None) -> _V:
    """The contract's value of a choice: `nice-to-have` is IMPORTANCE_NICE_TO_HAVE.

    Every enum of the contract prefixes its values with its UNSPECIFIED value's prefix
    (buf lint's rule), so one spelling rule serves them all; render.label reads back.
    No choice is the UNSPECIFIED value, which the contract reads as "not given".
    """
    name = choice.value.upper().replace("-", "_") if choice is not None else "UNSPECIFIED"
    return enum.Value(enum_prefix(enum.DESCRIPTOR) + name)
