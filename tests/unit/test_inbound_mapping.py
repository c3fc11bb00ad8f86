"""Inbound webhooks' rules, pure: a mapping declared as data, and the senders' signatures."""

from __future__ import annotations

import json
from typing import Any

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import FieldViolation
from quorum_gateway import inbound_mapping as m
from quorum_gateway.inbound_mapping import Action, FieldMap, Source

TICKET_MAPPING = [
    FieldMap("title", Source(pointer="/ticket/subject")),
    FieldMap("problem", Source(pointer="/ticket/description")),
    FieldMap("product_area", Source(constant="reporting")),
    FieldMap("tags", Source(pointer="/ticket/tags"), optional=True),
    FieldMap("source_channel", Source(constant="SOURCE_CHANNEL_HELP_DESK")),
    FieldMap("submitted_by.organization_id", Source(pointer="/requester/org")),
    FieldMap("submitted_by.member_id", Source(pointer="/requester/id")),
    FieldMap("importance", Source(header="X-Priority"), optional=True),
]
TICKET: dict[str, Any] = {
    "ticket": {"subject": "Export to CSV", "description": "We copy by hand.", "tags": ["export"]},
    "requester": {"org": "bakery", "id": 4711},
}


def test_a_ticket_becomes_a_submission() -> None:
    built = m.build(
        Action.SUBMIT_IDEA, TICKET_MAPPING, TICKET, {"x-priority": "IMPORTANCE_CRITICAL"}
    )
    assert built.problems == []
    assert built.request == gateway_pb2.SubmitIdeaRequest(
        title="Export to CSV",
        problem="We copy by hand.",
        product_area="reporting",
        tags=["export"],
        source_channel=domain_pb2.SOURCE_CHANNEL_HELP_DESK,
        # A numeric contact id is taken as its digits.
        submitted_by=domain_pb2.MemberRef(organization_id="bakery", member_id="4711"),
        importance=domain_pb2.IMPORTANCE_CRITICAL,
    )


def test_optional_values_may_be_missing_or_null_and_one_tag_is_a_list() -> None:
    payload = json.loads(json.dumps(TICKET))
    payload["ticket"]["tags"] = None
    built = m.build(Action.SUBMIT_IDEA, TICKET_MAPPING, payload, {})
    assert isinstance(built.request, gateway_pb2.SubmitIdeaRequest)
    assert list(built.request.tags) == []
    payload["ticket"]["tags"] = "export"
    built = m.build(Action.SUBMIT_IDEA, TICKET_MAPPING, payload, {})
    assert isinstance(built.request, gateway_pb2.SubmitIdeaRequest)
    assert list(built.request.tags) == ["export"]


def test_every_missing_or_wrong_value_is_named_by_its_payload_path() -> None:
    payload = {"ticket": {"subject": {"text": "nested"}}, "requester": {"org": "bakery"}}
    built = m.build(Action.SUBMIT_IDEA, TICKET_MAPPING, payload, {})
    assert built.request is None
    assert built.problems == [
        FieldViolation("/ticket/subject", "must be a string, not an object (it fills title)"),
        FieldViolation("/ticket/description", "is missing (it fills problem)"),
        FieldViolation("/requester/id", "is missing (it fills submitted_by.member_id)"),
    ]


def test_a_value_that_makes_no_valid_request_is_refused_not_raised() -> None:
    mapping = [FieldMap("importance", Source(constant="VERY"))]
    built = m.build(Action.SUBMIT_IDEA, mapping, {}, {})
    assert built.request is None
    assert built.problems[0].field == "body"


def test_json_pointers_follow_rfc_6901() -> None:
    document = {"a/b": {"m~n": [10, 20]}, "": 1}
    assert m.resolve(document, "/a~1b/m~0n/1") == 20
    assert m.resolve(document, "/") == 1
    for missing in ("/a~1b/m~0n/2", "/nope", "/a~1b/m~0n/x"):
        try:
            m.resolve(document, missing)
        except m.Missing:
            continue
        raise AssertionError(missing)


def test_a_mapping_names_only_fields_of_its_request_once_each() -> None:
    problems = m.check_mapping(
        Action.ENDORSE_IDEA,
        [
            FieldMap("idea_id", Source(pointer="/idea")),
            FieldMap("idea_id", Source(pointer="/other")),
            FieldMap("title", Source(pointer="/t")),
            FieldMap("expected_version", Source(pointer="/v")),
            FieldMap("member.member_id", Source(pointer="no-slash")),
            FieldMap("impact", Source()),
        ],
    )
    fields = [p.field for p in problems]
    assert fields == [
        "fields[1].field",
        "fields[2].field",
        "fields[3].field",
        "fields[4].value",
        "fields[5].value",
    ]
    assert m.check_mapping(Action.SUBMIT_IDEA, TICKET_MAPPING) == []
    assert "request_id" not in m.leaf_fields(gateway_pb2.SubmitIdeaRequest.DESCRIPTOR)


def test_a_refusal_of_the_call_names_the_payload_paths() -> None:
    explained = m.explain(
        [FieldViolation("title", "must be at least 5 characters"), FieldViolation("impact", "x")],
        TICKET_MAPPING,
    )
    assert explained == [
        FieldViolation("/ticket/subject", "must be at least 5 characters (it fills title)"),
        FieldViolation("impact", "x (not mapped by the endpoint)"),
    ]


def test_the_delivery_id_is_required() -> None:
    source = Source(header=m.DELIVERY_ID_HEADER)
    assert m.delivery_id_of(source, {}, {"quorum-delivery-id": " d-1 "}) == "d-1"
    assert m.delivery_id_of(Source(pointer="/id"), {"id": 7}, {}) == "7"
    missing = m.delivery_id_of(source, {}, {})
    assert isinstance(missing, FieldViolation)
    assert missing.field == "header Quorum-Delivery-Id"


def test_signed_requests_verify_within_the_tolerance_only() -> None:
    body = b'{"ticket": 1}'
    stamp = 1_800_000_000
    headers = {"quorum-timestamp": str(stamp), "quorum-signature": m.sign("s" * 20, stamp, body)}
    assert m.signature_problem("s" * 20, headers, body, stamp + 10) is None
    # A rollover: any one of several signatures may match.
    rolled = {**headers, "quorum-signature": f"v1=00,{headers['quorum-signature']}"}
    assert m.signature_problem("s" * 20, rolled, body, stamp) is None
    stale = m.signature_problem("s" * 20, headers, body, stamp + m.TOLERANCE_SECONDS + 1)
    assert stale is not None
    assert stale.field == m.TIMESTAMP_HEADER
    wrong = m.signature_problem("t" * 20, headers, body, stamp)
    assert wrong is not None
    assert wrong.field == m.SIGNATURE_HEADER
    tampered = m.signature_problem("s" * 20, headers, body + b" ", stamp)
    assert tampered is not None
    assert tampered.field == m.SIGNATURE_HEADER
    unsigned = m.signature_problem("s" * 20, {}, body, stamp)
    assert unsigned is not None
    assert "missing" in unsigned.description
    # The same signed request has the same mark; another signature another.
    assert m.signature_mark("in_1", headers) == m.signature_mark("in_1", dict(headers))
    assert m.signature_mark("in_1", headers) != m.signature_mark("in_1", rolled)
