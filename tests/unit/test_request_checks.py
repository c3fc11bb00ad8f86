"""The bounds every public request field has, whatever the method."""

from __future__ import annotations

import pytest

from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import InvalidArgument
from quorum_common.request_checks import INTEGER_MAX, REPEATED_MAX, STRING_MAX
from quorum_gateway.requests import check_request, watch_cursor


def _fields(request: object) -> list[str]:
    with pytest.raises(InvalidArgument) as caught:
        check_request(request)
    return [v.field for v in caught.value.violations]


def test_a_plain_request_passes() -> None:
    check_request(gateway_pb2.ListIdeasRequest(page_size=20, tag="billing"))
    check_request(gateway_pb2.WatchEventsRequest(cursor="0"))


def test_unknown_enums_nan_and_huge_numbers_are_named_by_path() -> None:
    request = gateway_pb2.UpdateGatePolicyRequest()
    request.policy.min_weight = float("nan")
    request.policy.weighting = 99  # type: ignore[assignment]
    request.policy.min_commitments.add(commitment=77, count=3)
    request.policy.relationship_factors.active = float("inf")
    assert sorted(_fields(request)) == [
        "policy.min_commitments[0].commitment",
        "policy.min_weight",
        "policy.relationship_factors.active",
        "policy.weighting",
    ]
    assert _fields(gateway_pb2.AdvanceStageRequest(expected_version=INTEGER_MAX + 1)) == [
        "expected_version"
    ]


def test_strings_lists_nul_and_timestamps() -> None:
    assert _fields(gateway_pb2.GetIdeaRequest(idea_id="a\x00b")) == ["idea_id"]
    assert _fields(gateway_pb2.DeclineIdeaRequest(reason="x" * (STRING_MAX + 1))) == ["reason"]
    assert _fields(gateway_pb2.SubmitIdeaRequest(tags=["a"] * (REPEATED_MAX + 1))) == ["tags"]
    request = gateway_pb2.UpsertOrganizationRequest()
    request.organization.updated_at.seconds = 2**62
    assert _fields(request) == ["organization.updated_at"]
    # Free text may carry a NUL; identifiers may not.
    check_request(gateway_pb2.DeclineIdeaRequest(reason="a\x00b"))


@pytest.mark.parametrize("cursor", ["1" * 23, "-1", "1e3", "²", "٣", " 1", str(INTEGER_MAX + 1)])
def test_out_of_range_cursors_name_the_cursor(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        watch_cursor(cursor)
    assert [v.field for v in caught.value.violations] == ["cursor"]


def test_cursors_in_range() -> None:
    assert watch_cursor("") is None
    assert watch_cursor("0") == 0
    assert watch_cursor(str(INTEGER_MAX)) == INTEGER_MAX
