"""What a valid request to the ideas service is (SPEC, "Idea lifecycle"): submissions
and ids, listings and their page tokens, similarity, endorsement pages, and a repeated
request repeating its body."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from quorum_common.errors import InvalidArgument, Violations
from quorum_ideas.domain import (
    Member,
    Status,
    check_same_request,
    submission_fingerprint,
)
from quorum_ideas.listing import (
    ListFilter,
    PagePosition,
    check_endorsements_request,
    check_list,
    encode_endorsements_token,
    encode_page_token,
)
from quorum_ideas.requests import (
    check_idea_id,
    check_submission,
)
from quorum_ideas.similar import similarity, words
from support.ideas_domain import (
    T0,
    TENANT,
    fields_of,
    member,
    submission,
)

# --- submission and ids -----------------------------------------------------------


def test_submission_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_submission(
            **submission(  # type: ignore[arg-type]
                title=" ",
                problem="x" * 10_001,
                product_area="",
                tags=["ok", "Not ok!"],
                source_channel=9,
                submitted_by=Member("", "ana"),
                importance=4,
                commitments=[0],
            )
        )
    assert fields_of(raised.value) == {
        "title",
        "problem",
        "product_area",
        "tags[1]",
        "source_channel",
        "submitted_by.organization_id",
        "importance",
        "commitments[0]",
    }


def test_a_title_of_exactly_200_characters_is_fine() -> None:
    check_submission(**submission(title="t" * 200))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        check_submission(**submission(title="t" * 201))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "is required"), ("123", "must be a UUID"), ("g" * 36, "must be a UUID")],
)
def test_idea_ids_are_uuids(value: str, problem: str) -> None:
    violations = Violations()
    assert check_idea_id(violations, "idea_id", value) == ""
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    assert raised.value.violations[0].description == problem


# --- listing ----------------------------------------------------------------------


def listing(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "tenant_id": TENANT,
        "stage": "",
        "status": 0,
        "product_area": "",
        "tag": "",
        "page_size": 0,
        "page_token": "",
    }
    fields.update(overrides)
    return fields


def test_page_size_defaults_to_20_and_is_capped_at_100() -> None:
    assert check_list(**listing()).page_size == 20  # type: ignore[arg-type]
    assert check_list(**listing(page_size=7)).page_size == 7  # type: ignore[arg-type]
    assert check_list(**listing(page_size=1000)).page_size == 100  # type: ignore[arg-type]


def test_list_filters_are_normalized() -> None:
    checked = check_list(**listing(tag=" Export ", status=3, stage="DESIGN"))  # type: ignore[arg-type]
    assert checked.filter == ListFilter(stage="DESIGN", status=Status.DECLINED, tag="export")
    assert checked.after is None


def test_list_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_list(
            **listing(  # type: ignore[arg-type]
                tenant_id="",
                status=9,
                tag="no spaces",
                page_size=-1,
                page_token="%%%",
                stage="s" * 101,
            )
        )
    assert fields_of(raised.value) == {
        "tenant_id",
        "status",
        "tag",
        "page_size",
        "page_token",
        "stage",
    }


def test_a_page_token_round_trips_with_the_same_filters() -> None:
    chosen = ListFilter(tag="export")
    position = PagePosition(T0 + timedelta(milliseconds=123), str(uuid.uuid4()))
    token = encode_page_token(TENANT, chosen, position)
    checked = check_list(**listing(tag="export", page_token=token))  # type: ignore[arg-type]
    assert checked.after == position


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"v": 1, "t": "x", "i": "y", "f": "z"}').decode(),
        base64.urlsafe_b64encode(b'{"v": 2}').decode(),
    ],
)
def test_a_forged_page_token_is_invalid(token: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_list(**listing(page_token=token))  # type: ignore[arg-type]
    assert fields_of(raised.value) == {"page_token"}


def test_a_page_token_is_bound_to_its_filters_and_tenant() -> None:
    position = PagePosition(T0, str(uuid.uuid4()))
    token = encode_page_token(TENANT, ListFilter(tag="export"), position)
    with pytest.raises(InvalidArgument, match="other filters"):
        check_list(**listing(tag="csv", page_token=token))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="other filters"):
        check_list(**listing(tenant_id="other", tag="export", page_token=token))  # type: ignore[arg-type]


# --- similarity -------------------------------------------------------------------


def test_similarity_ignores_stop_words_and_case() -> None:
    left = words("Export the gate reports to CSV")
    right = words("export GATE reports as csv files")
    assert left == {"export", "gate", "reports", "csv"}
    assert similarity(left, right) == pytest.approx(4 / 5)
    assert similarity(left, words("Single sign-on with Okta")) == 0.0
    assert similarity(frozenset(), right) == 0.0
    assert similarity(left, left) == 1.0


# --- listing endorsements -------------------------------------------------------


def test_an_endorsements_page_token_continues_after_its_organization() -> None:
    idea_id = str(uuid.uuid4())
    token = encode_endorsements_token(TENANT, idea_id, "globex")
    checked = check_endorsements_request(
        tenant_id=TENANT, idea_id=idea_id.upper(), page_size=0, page_token=token
    )
    assert (checked.idea_id, checked.after, checked.page_size) == (idea_id, "globex", 50)
    assert (
        check_endorsements_request(
            tenant_id=TENANT, idea_id=idea_id, page_size=10_000, page_token=""
        ).page_size
        == 500
    )


@pytest.mark.parametrize("token", ["nonsense", base64.urlsafe_b64encode(b"[1]").decode()])
def test_a_forged_endorsements_token_is_invalid(token: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_endorsements_request(
            tenant_id=TENANT, idea_id=str(uuid.uuid4()), page_size=0, page_token=token
        )
    assert fields_of(raised.value) == {"page_token"}


def test_an_endorsements_token_belongs_to_its_idea() -> None:
    token = encode_endorsements_token(TENANT, str(uuid.uuid4()), "acme")
    with pytest.raises(InvalidArgument) as raised:
        check_endorsements_request(
            tenant_id=TENANT, idea_id=str(uuid.uuid4()), page_size=-1, page_token=token
        )
    assert fields_of(raised.value) == {"page_token", "page_size"}


def test_a_repeated_request_must_repeat_its_body() -> None:
    first = submission_fingerprint(check_submission(**submission()))  # type: ignore[arg-type]
    reordered = submission_fingerprint(
        check_submission(**submission(tags=["csv", "export"]))  # type: ignore[arg-type]
    )
    other = submission_fingerprint(check_submission(**submission(title="Another")))  # type: ignore[arg-type]
    elsewhere = submission_fingerprint(
        check_submission(**submission(submitted_by=member("globex", "bo")))  # type: ignore[arg-type]
    )
    assert first == reordered
    assert len({first, other, elsewhere}) == 3
    check_same_request(first, reordered)
    with pytest.raises(InvalidArgument) as refused:
        check_same_request(first, other)
    assert [v.field for v in refused.value.violations] == ["request_id"]
