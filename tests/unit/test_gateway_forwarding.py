"""The public calls the gateway forwards field by field lose nothing on the way.

A forwarded call's request is the backend's made of the public request's fields by
name, and its answer the public one made of the backend's (`forwarding.py`,
`Backends.forward`): every public field must have its namesake, of the same kind, on
the other side, or it would be dropped. The calls are found where they are declared.
"""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from quorum.gateway.v1 import gateway_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum.validation.v1 import validation_pb2
from quorum_gateway.directory_api import DirectoryApi, PolicyApi
from quorum_gateway.forwarding import forwarded
from quorum_gateway.insights_api import InsightsApi
from quorum_gateway.notifications_api import NotificationsApi
from quorum_gateway.peers_api import PeersApi

# The internal service behind each of the gateway's stubs (backends.py).
BEHIND = {
    "ideas": ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"],
    "gates": validation_pb2.DESCRIPTOR.services_by_name["GateService"],
    "directory": validation_pb2.DESCRIPTOR.services_by_name["DirectoryService"],
    "policies": validation_pb2.DESCRIPTOR.services_by_name["PolicyService"],
    "insights": validation_pb2.DESCRIPTOR.services_by_name["InsightsService"],
    "peers": validation_pb2.DESCRIPTOR.services_by_name["PeersService"],
    "notifications": notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"],
}
SERVICERS = [DirectoryApi, PolicyApi, InsightsApi, PeersApi, NotificationsApi]
# Calls that do more around their forwarding, so they are methods calling
# Backends.forward themselves.
BY_HAND = [
    ("DirectoryService", "directory", "UpsertOrganization"),
]


def public(service: str, name: str) -> MethodDescriptor:
    return gateway_pb2.DESCRIPTOR.services_by_name[service].methods_by_name[name]


DECLARED = [
    (servicer.__bases__[-1].__name__.removesuffix("Servicer"), value)
    for servicer in SERVICERS
    for value in vars(servicer).values()
    if isinstance(value, forwarded)
]
# Calls whose request is forwarded (Backends.request_for) and whose answer is made by
# hand: the decisions, and the ideas' calls but for the busiest two (GetIdea, EndorseIdea).
REQUESTS = [
    (public(service, name), BEHIND[backend].methods_by_name[name])
    for service, backend, names in [
        (
            "GatesService",
            "gates",
            ["AdvanceStage", "DeclineIdea", "CastCouncilVote", "OverrideStage", "CoSignIdea"],
        ),
        (
            "IdeasService",
            "ideas",
            [
                "SubmitIdea",
                "ListIdeas",
                "WithdrawEndorsement",
                "ListEndorsements",
                "FindSimilarIdeas",
                "MergeIdeas",
            ],
        ),
    ]
    for name in names
]
PAIRS = [
    (public(service, value.name), BEHIND[value.backend].methods_by_name[value.name])
    for service, value in DECLARED
] + [
    (public(service, name), BEHIND[backend].methods_by_name[name])
    for service, backend, name in BY_HAND
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


@pytest.mark.parametrize(("public", "backend"), REQUESTS, ids=lambda m: m.full_name)
def test_a_forwarded_request_carries_every_public_field(
    public: MethodDescriptor, backend: MethodDescriptor
) -> None:
    assert lost(public.input_type, backend.input_type) == []


def test_the_forwarded_calls_are_found() -> None:
    assert len(DECLARED) == 17


@pytest.mark.parametrize(("public", "backend"), PAIRS, ids=lambda m: m.full_name)
def test_a_forwarded_call_carries_every_public_field(
    public: MethodDescriptor, backend: MethodDescriptor
) -> None:
    assert lost(public.input_type, backend.input_type) == []
    assert lost(public.output_type, backend.output_type) == []


@pytest.mark.parametrize(("service", "declared"), DECLARED, ids=lambda d: getattr(d, "name", d))
def test_a_forwarded_call_answers_what_the_public_call_does(
    service: str, declared: forwarded[Message]
) -> None:
    assert declared.answer.DESCRIPTOR is public(service, declared.name).output_type
