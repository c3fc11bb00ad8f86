"""The choices the contract's enums offer, as people type them, and back to the contract.

`nice-to-have` on the command line is IMPORTANCE_NICE_TO_HAVE on the wire: the value
of each choice is the enum's name without its prefix, lower-case, `-` for `_`.
"""

from __future__ import annotations

from enum import StrEnum

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2


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


def constant(choice: StrEnum) -> str:
    return choice.value.upper().replace("-", "_")


def importance_value(choice: Importance) -> domain_pb2.Importance.ValueType:
    return domain_pb2.Importance.Value(f"IMPORTANCE_{constant(choice)}")


def commitment_value(choice: Commitment) -> domain_pb2.Commitment.ValueType:
    return domain_pb2.Commitment.Value(f"COMMITMENT_{constant(choice)}")


def channel_value(choice: Channel) -> domain_pb2.SourceChannel.ValueType:
    return domain_pb2.SourceChannel.Value(f"SOURCE_CHANNEL_{constant(choice)}")


def job_value(choice: JobFunction) -> domain_pb2.JobFunction.ValueType:
    return domain_pb2.JobFunction.Value(f"JOB_FUNCTION_{constant(choice)}")


def status_value(choice: Status) -> domain_pb2.IdeaStatus.ValueType:
    return domain_pb2.IdeaStatus.Value(f"IDEA_STATUS_{constant(choice)}")


def relationship_value(choice: Relationship) -> domain_pb2.Relationship.ValueType:
    return domain_pb2.Relationship.Value(f"RELATIONSHIP_{constant(choice)}")


def weighting_value(choice: Weighting) -> domain_pb2.Weighting.ValueType:
    return domain_pb2.Weighting.Value(f"WEIGHTING_{constant(choice)}")


def role_value(choice: Role) -> gateway_pb2.Role.ValueType:
    return gateway_pb2.Role.Value(f"ROLE_{constant(choice)}")
