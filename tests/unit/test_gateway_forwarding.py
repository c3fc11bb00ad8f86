"""The public calls the gateway forwards field by field (`Backends.forward`) lose nothing.

A forwarded call's request is the backend's made of the public request's fields by
name, and its answer the public one made of the backend's: every public field must
have its namesake, of the same kind, on the other side, or it would be dropped.
"""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum.validation.v1 import validation_pb2

# Each forwarded public service, its backend's service, and the calls forwarded.
FORWARDED = [
    (
        "DirectoryService",
        validation_pb2,
        "DirectoryService",
        ["UpsertOrganization", "GetOrganization", "ListOrganizations", "UpsertCouncil"],
    ),
    ("PolicyService", validation_pb2, "PolicyService", ["GetPipeline", "UpdateGatePolicy"]),
    (
        "InsightsService",
        validation_pb2,
        "InsightsService",
        ["GetOrganizationScorecard", "GetTenantScorecard", "WhatIf"],
    ),
    (
        "PeersService",
        validation_pb2,
        "PeersService",
        ["ListPeers", "RequestIntroduction", "AnswerIntroduction", "ListIntroductions"],
    ),
    (
        "NotificationsService",
        notifications_pb2,
        "NotificationsService",
        [
            "ListSubscriptions",
            "DeleteSubscription",
            "ListDeliveries",
            "RotateWebhookSecret",
            "EndWebhookSecretRollover",
        ],
    ),
]
PAIRS = [
    (
        gateway_pb2.DESCRIPTOR.services_by_name[public].methods_by_name[name],
        package.DESCRIPTOR.services_by_name[backend].methods_by_name[name],
    )
    for public, package, backend, names in FORWARDED
    for name in names
]


def kind(field: FieldDescriptor) -> tuple[object, ...]:
    return (
        field.type,
        field.is_repeated,
        field.message_type.full_name if field.message_type else None,
        field.enum_type.full_name if field.enum_type else None,
    )


def lost(source: Descriptor, into: Descriptor) -> list[str]:
    """The fields of `source` that `into` has not, or has of another kind."""
    there = into.fields_by_name
    return [f.name for f in source.fields if f.name not in there or kind(there[f.name]) != kind(f)]


@pytest.mark.parametrize(("public", "backend"), PAIRS, ids=lambda m: m.full_name)
def test_a_forwarded_call_carries_every_public_field(
    public: MethodDescriptor, backend: MethodDescriptor
) -> None:
    assert lost(public.input_type, backend.input_type) == []
    assert lost(public.output_type, backend.output_type) == []
