"""The ideas service's pure rules (SPEC, "Idea lifecycle"): what a valid request is,
how endorsements count per organization, withdrawal, merging and page tokens."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from quorum_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, Violations
from quorum_ideas.domain import (
    Commitment,
    Idea,
    Importance,
    ListFilter,
    Member,
    MemberEndorsement,
    PagePosition,
    Status,
    check_endorse,
    check_idea_id,
    check_list,
    check_merge,
    check_submission,
    check_withdraw,
    count_by_organization,
    encode_page_token,
    endorse,
    merge,
    new_idea,
    projected_status,
    similarity,
    stronger,
    withdraw,
    words,
)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TENANT = "acme-software"
CRITICAL = Importance.CRITICAL
IMPORTANT = Importance.IMPORTANT
NICE = Importance.NICE_TO_HAVE
BETA = Commitment.BETA_TESTER
CO_DEVELOP = Commitment.CO_DEVELOP
PREORDER = Commitment.PREORDER


def member(org: str, who: str) -> Member:
    return Member(org, who)


def endorsement(
    org: str,
    who: str,
    importance: Importance = IMPORTANT,
    commitments: Iterable[Commitment] = (),
    *,
    impact: str = "",
    minutes: int = 0,
) -> MemberEndorsement:
    return MemberEndorsement(
        member=member(org, who),
        importance=importance,
        impact=impact,
        commitments=frozenset(commitments),
        endorsed_at=T0 + timedelta(minutes=minutes),
    )


def submission(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "title": "Export gate reports to CSV",
        "problem": "Our portfolio board reviews gate decisions in spreadsheets.",
        "product_area": "reporting",
        "tags": ["Export", "csv", "export"],
        "source_channel": 1,
        "known_channels": {1, 2},
        "submitted_by": member("acme", "ana"),
        "importance": 2,
        "impact": "",
        "commitments": [],
    }
    fields.update(overrides)
    return fields


def an_idea(
    *endorsements: MemberEndorsement,
    status: Status = Status.OPEN,
    version: int = 1,
    idea_id: str | None = None,
) -> Idea:
    idea = new_idea(
        idea_id or str(uuid.uuid4()),
        TENANT,
        check_submission(**submission()),  # type: ignore[arg-type]
        T0,
    )
    return replace(
        idea,
        endorsements=endorsements or idea.endorsements,
        status=status,
        version=version,
        merged_into="" if status is not Status.MERGED else str(uuid.uuid4()),
    )


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


# --- counting per organization ------------------------------------------------


def test_an_organization_counts_once_at_its_members_highest_importance() -> None:
    counted = count_by_organization(
        [
            endorsement("acme", "ana", NICE, [BETA], minutes=1),
            endorsement("acme", "bo", CRITICAL, [PREORDER], minutes=5),
            endorsement("acme", "cy", IMPORTANT, minutes=3),
            endorsement("globex", "gil", NICE),
        ]
    )
    assert [c.organization_id for c in counted] == ["acme", "globex"]
    acme = counted[0]
    assert acme.importance is CRITICAL
    assert acme.commitments == {BETA, PREORDER}
    assert acme.endorsed_at == T0 + timedelta(minutes=5)
    assert acme.member_count == 3
    assert counted[1].member_count == 1


def test_no_endorsements_count_as_no_organizations() -> None:
    assert count_by_organization([]) == []


def test_a_new_idea_carries_its_submitters_endorsement() -> None:
    idea = an_idea()
    assert idea.version == 1
    assert idea.status is Status.OPEN
    assert [e.organization_id for e in idea.organization_endorsements()] == ["acme"]
    assert idea.tags == ("export", "csv")


# --- endorse --------------------------------------------------------------------


def test_endorsing_adds_the_member_and_bumps_the_version() -> None:
    idea = an_idea()
    endorsed = endorse(idea, endorsement("globex", "gil", CRITICAL, minutes=2))
    assert endorsed is not None
    assert endorsed.version == 2
    assert endorsed.updated_at == T0 + timedelta(minutes=2)
    assert [e.organization_id for e in endorsed.organization_endorsements()] == ["acme", "globex"]


def test_endorsing_again_identically_changes_nothing() -> None:
    idea = endorse(an_idea(), endorsement("globex", "gil", CRITICAL, [BETA], impact="x"))
    assert idea is not None
    again = endorsement("globex", "gil", CRITICAL, [BETA], impact="x", minutes=30)
    assert endorse(idea, again) is None
    # A retry whose first attempt committed is not a conflict either.
    assert endorse(idea, again, expected_version=1) is None


def test_a_member_changing_their_endorsement_replaces_it() -> None:
    idea = endorse(an_idea(), endorsement("globex", "gil", NICE))
    assert idea is not None
    changed = endorse(idea, endorsement("globex", "gil", CRITICAL, [CO_DEVELOP], minutes=9))
    assert changed is not None
    assert changed.version == idea.version + 1
    globex = changed.organization_endorsement("globex")
    assert globex is not None
    assert (globex.importance, globex.member_count) == (CRITICAL, 1)
    assert globex.commitments == {CO_DEVELOP}


def test_two_members_of_one_organization_count_once() -> None:
    idea = an_idea()
    for who in ("gil", "gus"):
        changed = endorse(idea, endorsement("globex", who, IMPORTANT))
        assert changed is not None
        idea = changed
    assert len(idea.organization_endorsements()) == 2
    globex = idea.organization_endorsement("globex")
    assert globex is not None
    assert globex.member_count == 2


def test_a_merged_idea_refuses_endorsements_and_names_the_survivor() -> None:
    idea = an_idea(status=Status.MERGED)
    with pytest.raises(FailedPrecondition, match=idea.merged_into):
        endorse(idea, endorsement("globex", "gil"))


def test_a_declined_idea_refuses_endorsements() -> None:
    with pytest.raises(FailedPrecondition, match="declined"):
        endorse(an_idea(status=Status.DECLINED), endorsement("globex", "gil"))


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one() -> None:
    idea = an_idea(version=4)
    with pytest.raises(Conflict, match="version 4"):
        endorse(idea, endorsement("globex", "gil"), expected_version=3)
    assert endorse(idea, endorsement("globex", "gil"), expected_version=4) is not None
    assert endorse(idea, endorsement("globex", "gil"), expected_version=0) is not None


def test_endorse_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_endorse(
            tenant_id="",
            idea_id="not-a-uuid",
            member=Member("", ""),
            importance=0,
            impact="x" * 2001,
            commitments=[1, 0, 9],
            expected_version=0,
        )
    assert fields_of(raised.value) == {
        "tenant_id",
        "idea_id",
        "member.organization_id",
        "member.member_id",
        "importance",
        "impact",
        "commitments[1]",
        "commitments[2]",
    }


def test_a_clean_endorse_request_is_normalized() -> None:
    idea_id = str(uuid.uuid4())
    checked = check_endorse(
        tenant_id=TENANT,
        idea_id=idea_id.upper(),
        member=member("acme", "ana"),
        importance=3,
        impact="  saves a day a week  ",
        commitments=[1, 1, 3],
        expected_version=7,
    )
    assert checked.idea_id == idea_id
    assert checked.endorsement.importance is CRITICAL
    assert checked.endorsement.impact == "saves a day a week"
    assert checked.endorsement.commitments == {BETA, PREORDER}
    assert checked.expected_version == 7
    stamped = checked.endorsement.at(T0)
    assert stamped.endorsed_at == T0
    assert stamped.member == member("acme", "ana")


def test_an_impact_of_exactly_the_limit_is_fine() -> None:
    check_endorse(
        tenant_id=TENANT,
        idea_id=str(uuid.uuid4()),
        member=member("acme", "ana"),
        importance=1,
        impact="x" * 2000,
        commitments=[],
        expected_version=0,
    )


# --- withdraw -------------------------------------------------------------------


def test_withdrawing_removes_only_that_member() -> None:
    idea = an_idea(
        endorsement("acme", "ana", CRITICAL),
        endorsement("acme", "bo", NICE, [BETA]),
        endorsement("globex", "gil"),
    )
    after = withdraw(idea, member("acme", "ana"), T0 + timedelta(hours=1))
    assert after.version == idea.version + 1
    assert after.updated_at == T0 + timedelta(hours=1)
    acme = after.organization_endorsement("acme")
    assert acme is not None
    # The organization still counts, now at its remaining member's importance.
    assert (acme.importance, acme.member_count, acme.commitments) == (NICE, 1, frozenset({BETA}))


def test_withdrawing_the_last_member_removes_the_organization() -> None:
    idea = an_idea(endorsement("acme", "ana"), endorsement("globex", "gil"))
    after = withdraw(idea, member("globex", "gil"), T0)
    assert after.organization_endorsement("globex") is None
    assert [e.organization_id for e in after.organization_endorsements()] == ["acme"]


def test_withdrawing_an_endorsement_that_does_not_exist_is_not_found() -> None:
    idea = an_idea(endorsement("acme", "ana"))
    with pytest.raises(NotFound):
        withdraw(idea, member("acme", "bo"), T0)
    # The same member id at another organization is another person.
    with pytest.raises(NotFound):
        withdraw(idea, member("globex", "ana"), T0)


def test_withdrawing_from_a_merged_idea_points_at_the_survivor() -> None:
    idea = an_idea(status=Status.MERGED)
    with pytest.raises(FailedPrecondition, match=idea.merged_into):
        withdraw(idea, member("acme", "ana"), T0)


def test_withdraw_checks_the_expected_version() -> None:
    idea = an_idea(version=2)
    with pytest.raises(Conflict, match="version 2"):
        withdraw(idea, member("acme", "ana"), T0, expected_version=1)


def test_withdraw_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_withdraw(tenant_id="", idea_id="", member=Member("", "x"), expected_version=0)
    assert fields_of(raised.value) == {"tenant_id", "idea_id", "member.organization_id"}


# --- merge ----------------------------------------------------------------------


def test_merging_carries_endorsements_over_one_per_organization() -> None:
    source = an_idea(
        endorsement("acme", "bo", CRITICAL),
        endorsement("initech", "ian", NICE, [PREORDER]),
    )
    target = an_idea(endorsement("acme", "ana", NICE), endorsement("globex", "gil"))
    merged = merge(source, target, T0 + timedelta(days=1))

    counted = {e.organization_id: e for e in merged.target.organization_endorsements()}
    assert sorted(counted) == ["acme", "globex", "initech"]
    assert counted["acme"].importance is CRITICAL
    assert counted["acme"].member_count == 2
    assert counted["initech"].commitments == {PREORDER}
    assert merged.target.version == target.version + 1
    assert merged.carried == (member("acme", "bo"), member("initech", "ian"))

    assert merged.source.status is Status.MERGED
    assert merged.source.merged_into == target.id
    assert merged.source.version == source.version + 1


def test_a_member_on_both_ideas_keeps_the_stronger_endorsement() -> None:
    source = an_idea(endorsement("acme", "ana", CRITICAL, [BETA], impact="from source"))
    target = an_idea(endorsement("acme", "ana", NICE, [PREORDER], minutes=5))
    merged = merge(source, target, T0)
    (kept,) = merged.target.endorsements
    assert kept.importance is CRITICAL
    assert kept.impact == "from source"
    # A promise made on either idea still stands.
    assert kept.commitments == {BETA, PREORDER}
    assert merged.target.organization_endorsement("acme") is not None


def test_stronger_prefers_importance_then_recency_then_the_target() -> None:
    weak_late = endorsement("acme", "ana", NICE, minutes=9)
    strong_early = endorsement("acme", "ana", CRITICAL, minutes=1)
    assert stronger(weak_late, strong_early).importance is CRITICAL
    early = endorsement("acme", "ana", IMPORTANT, impact="early", minutes=1)
    late = endorsement("acme", "ana", IMPORTANT, impact="late", minutes=2)
    assert stronger(early, late).impact == "late"
    kept = endorsement("acme", "ana", IMPORTANT, impact="kept")
    same = endorsement("acme", "ana", IMPORTANT, impact="incoming")
    assert stronger(kept, same).impact == "kept"


@pytest.mark.parametrize("status", [Status.MERGED, Status.DECLINED, Status.LAUNCHED])
@pytest.mark.parametrize("role", ["source", "target"])
def test_only_open_ideas_can_be_merged(status: Status, role: str) -> None:
    ideas = {"source": an_idea(), "target": an_idea()}
    ideas[role] = replace(ideas[role], status=status)
    with pytest.raises(FailedPrecondition, match=role):
        merge(ideas["source"], ideas["target"], T0)


def test_an_idea_cannot_be_merged_into_itself() -> None:
    idea = an_idea()
    with pytest.raises(InvalidArgument) as raised:
        merge(idea, idea, T0)
    assert fields_of(raised.value) == {"target_idea_id"}


def test_merge_checks_both_expected_versions() -> None:
    source, target = an_idea(version=3), an_idea(version=5)
    with pytest.raises(Conflict, match="version 3"):
        merge(source, target, T0, expected_source_version=2)
    with pytest.raises(Conflict, match="version 5"):
        merge(source, target, T0, expected_target_version=4)
    assert merge(source, target, T0, 3, 5).target.version == 6


def test_merge_request_names_every_bad_field() -> None:
    same = str(uuid.uuid4())
    with pytest.raises(InvalidArgument) as raised:
        check_merge(
            tenant_id=TENANT,
            source_idea_id=same,
            target_idea_id=same.upper(),
            actor_id=" ",
            expected_source_version=0,
            expected_target_version=0,
        )
    assert fields_of(raised.value) == {"target_idea_id", "actor.principal_id"}
    with pytest.raises(InvalidArgument) as raised:
        check_merge(
            tenant_id="",
            source_idea_id="x",
            target_idea_id="",
            actor_id="pm-1",
            expected_source_version=0,
            expected_target_version=0,
        )
    assert fields_of(raised.value) == {"tenant_id", "source_idea_id", "target_idea_id"}


# --- projection -----------------------------------------------------------------


def test_validation_events_set_the_status_but_never_undo_a_merge() -> None:
    assert projected_status(Status.OPEN, Status.DECLINED) is Status.DECLINED
    assert projected_status(Status.OPEN, Status.LAUNCHED) is Status.LAUNCHED
    assert projected_status(Status.OPEN, None) is Status.OPEN
    assert projected_status(Status.MERGED, Status.OPEN) is Status.MERGED
    assert projected_status(Status.MERGED, Status.DECLINED) is Status.MERGED


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
