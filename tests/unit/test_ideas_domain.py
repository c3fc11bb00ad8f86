"""The ideas service's pure rules (SPEC, "Idea lifecycle"): what a valid request is,
how endorsements count per organization, withdrawal, merging and page tokens.

An idea keeps counts; the rules look only at the backing of the one organization a
change is about (`OrganizationBacking`), which is what makes a change cost the same on
an idea with 50,000 endorsements. `Backed` below plays the store's part: it keeps every
organization's backing beside the idea, so the tests can state what the whole idea
looks like after a sequence of changes."""

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
    Member,
    MemberEndorsement,
    OrganizationBacking,
    OrganizationEndorsement,
    Status,
    check_same_request,
    count_by_organization,
    endorse,
    merge,
    new_idea,
    projected_status,
    stronger,
    submission_fingerprint,
    submitter_endorsement,
    withdraw,
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
    check_endorse,
    check_idea_id,
    check_merge,
    check_submission,
    check_withdraw,
)
from quorum_ideas.similar import similarity, words

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


class Backed:
    """An idea with every organization's backing, changed only through the rules."""

    def __init__(
        self,
        *endorsements: MemberEndorsement,
        status: Status = Status.OPEN,
        version: int = 1,
    ) -> None:
        checked = check_submission(**submission())  # type: ignore[arg-type]
        idea = new_idea(str(uuid.uuid4()), TENANT, checked, T0)
        first = submitter_endorsement(idea, checked)
        self.backings: dict[str, OrganizationBacking] = {}
        for e in endorsements or (first,):
            org = e.member.organization_id
            self.backings[org] = self.backing(org).with_endorsement(e)
        self.idea = replace(
            idea,
            status=status,
            version=version,
            merged_into="" if status is not Status.MERGED else str(uuid.uuid4()),
            organization_count=len(self.backings),
            endorsement_count=sum(len(b.endorsements) for b in self.backings.values()),
        )

    def backing(self, org: str) -> OrganizationBacking:
        return self.backings.get(org) or OrganizationBacking(org)

    def counted(self, org: str) -> OrganizationEndorsement | None:
        return self.backing(org).counted()

    def organizations(self) -> list[str]:
        return sorted(org for org, b in self.backings.items() if b.endorsements)

    def endorse(self, e: MemberEndorsement, expected_version: int = 0) -> bool:
        """Apply an endorsement; False when it changed nothing."""
        done = endorse(self.idea, self.backing(e.member.organization_id), e, expected_version)
        if done is None:
            return False
        self.idea = done.idea
        self.backings[done.backing.organization_id] = done.backing
        return True

    def withdraw(self, who: Member, at: datetime = T0, expected_version: int = 0) -> None:
        done = withdraw(self.idea, self.backing(who.organization_id), who, at, expected_version)
        self.idea = done.idea
        self.backings[done.backing.organization_id] = done.backing


def an_idea(
    *endorsements: MemberEndorsement, status: Status = Status.OPEN, version: int = 1
) -> Idea:
    return Backed(*endorsements, status=status, version=version).idea


def merged_pair(source: Backed, target: Backed, at: datetime = T0, *versions: int) -> Backed:
    """Merge `source` into `target`; the target as it stands afterwards."""
    moving = [e for b in source.backings.values() for e in b.endorsements]
    done = merge(source.idea, target.idea, moving, target.backings, at, *versions)
    source.idea = done.source
    target.idea = done.target
    for backing in done.changed:
        target.backings[backing.organization_id] = backing
    target.carried = done.carried  # type: ignore[attr-defined]
    return target


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
    backed = Backed()
    assert backed.idea.version == 1
    assert backed.idea.status is Status.OPEN
    assert backed.organizations() == ["acme"]
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (1, 1)
    assert backed.idea.tags == ("export", "csv")


# --- endorse --------------------------------------------------------------------


def test_endorsing_adds_the_member_and_bumps_the_version() -> None:
    backed = Backed()
    assert backed.endorse(endorsement("globex", "gil", CRITICAL, minutes=2))
    assert backed.idea.version == 2
    assert backed.idea.updated_at == T0 + timedelta(minutes=2)
    assert backed.organizations() == ["acme", "globex"]
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (2, 2)


def test_endorsing_again_identically_changes_nothing() -> None:
    backed = Backed()
    assert backed.endorse(endorsement("globex", "gil", CRITICAL, [BETA], impact="x"))
    again = endorsement("globex", "gil", CRITICAL, [BETA], impact="x", minutes=30)
    assert not backed.endorse(again)
    # A retry whose first attempt committed is not a conflict either.
    assert not backed.endorse(again, expected_version=1)
    assert backed.idea.version == 2


def test_a_member_changing_their_endorsement_replaces_it() -> None:
    backed = Backed()
    assert backed.endorse(endorsement("globex", "gil", NICE))
    version = backed.idea.version
    assert backed.endorse(endorsement("globex", "gil", CRITICAL, [CO_DEVELOP], minutes=9))
    assert backed.idea.version == version + 1
    globex = backed.counted("globex")
    assert globex is not None
    assert (globex.importance, globex.member_count) == (CRITICAL, 1)
    assert globex.commitments == {CO_DEVELOP}
    # Still one member and one organization more than the submitter's.
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (2, 2)


def test_two_members_of_one_organization_count_once() -> None:
    backed = Backed()
    for who in ("gil", "gus"):
        assert backed.endorse(endorsement("globex", who, IMPORTANT))
    assert backed.organizations() == ["acme", "globex"]
    globex = backed.counted("globex")
    assert globex is not None
    assert globex.member_count == 2
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (2, 3)


def test_a_merged_idea_refuses_endorsements_and_names_the_survivor() -> None:
    backed = Backed(status=Status.MERGED)
    with pytest.raises(FailedPrecondition, match=backed.idea.merged_into):
        backed.endorse(endorsement("globex", "gil"))


def test_a_declined_idea_refuses_endorsements() -> None:
    with pytest.raises(FailedPrecondition, match="declined"):
        Backed(status=Status.DECLINED).endorse(endorsement("globex", "gil"))


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one() -> None:
    backed = Backed(version=4)
    with pytest.raises(Conflict, match="version 4"):
        backed.endorse(endorsement("globex", "gil"), expected_version=3)
    assert backed.endorse(endorsement("globex", "gil"), expected_version=4)
    assert backed.endorse(endorsement("initech", "ian"), expected_version=0)


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
    backed = Backed(
        endorsement("acme", "ana", CRITICAL),
        endorsement("acme", "bo", NICE, [BETA]),
        endorsement("globex", "gil"),
    )
    version = backed.idea.version
    backed.withdraw(member("acme", "ana"), T0 + timedelta(hours=1))
    assert backed.idea.version == version + 1
    assert backed.idea.updated_at == T0 + timedelta(hours=1)
    acme = backed.counted("acme")
    assert acme is not None
    # The organization still counts, now at its remaining member's importance.
    assert (acme.importance, acme.member_count, acme.commitments) == (NICE, 1, frozenset({BETA}))
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (2, 2)


def test_withdrawing_the_last_member_removes_the_organization() -> None:
    backed = Backed(endorsement("acme", "ana"), endorsement("globex", "gil"))
    backed.withdraw(member("globex", "gil"))
    assert backed.counted("globex") is None
    assert backed.organizations() == ["acme"]
    assert (backed.idea.organization_count, backed.idea.endorsement_count) == (1, 1)


def test_withdrawing_an_endorsement_that_does_not_exist_is_not_found() -> None:
    backed = Backed(endorsement("acme", "ana"))
    with pytest.raises(NotFound):
        backed.withdraw(member("acme", "bo"))
    # The same member id at another organization is another person.
    with pytest.raises(NotFound):
        backed.withdraw(member("globex", "ana"))


def test_withdrawing_from_a_merged_idea_points_at_the_survivor() -> None:
    backed = Backed(status=Status.MERGED)
    with pytest.raises(FailedPrecondition, match=backed.idea.merged_into):
        backed.withdraw(member("acme", "ana"))


def test_withdraw_checks_the_expected_version() -> None:
    backed = Backed(version=2)
    with pytest.raises(Conflict, match="version 2"):
        backed.withdraw(member("acme", "ana"), expected_version=1)


def test_withdraw_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_withdraw(tenant_id="", idea_id="", member=Member("", "x"), expected_version=0)
    assert fields_of(raised.value) == {"tenant_id", "idea_id", "member.organization_id"}


# --- merge ----------------------------------------------------------------------


def test_merging_carries_endorsements_over_one_per_organization() -> None:
    source = Backed(
        endorsement("acme", "bo", CRITICAL),
        endorsement("initech", "ian", NICE, [PREORDER]),
    )
    target = Backed(endorsement("acme", "ana", NICE), endorsement("globex", "gil"))
    before = target.idea.version
    merged_pair(source, target, T0 + timedelta(days=1))

    assert target.organizations() == ["acme", "globex", "initech"]
    acme, initech = target.counted("acme"), target.counted("initech")
    assert acme is not None
    assert initech is not None
    assert acme.importance is CRITICAL
    assert acme.member_count == 2
    assert initech.commitments == {PREORDER}
    assert target.idea.version == before + 1
    assert (target.idea.organization_count, target.idea.endorsement_count) == (3, 4)
    assert target.carried == (member("acme", "bo"), member("initech", "ian"))  # type: ignore[attr-defined]

    assert source.idea.status is Status.MERGED
    assert source.idea.merged_into == target.idea.id
    assert source.idea.version == 2


def test_a_merge_reports_only_the_organizations_that_moved() -> None:
    source = Backed(endorsement("initech", "ian"))
    target = Backed(endorsement("acme", "ana"), endorsement("globex", "gil"))
    moving = [e for b in source.backings.values() for e in b.endorsements]
    done = merge(source.idea, target.idea, moving, target.backings, T0)
    assert [b.organization_id for b in done.changed] == ["initech"]


def test_a_member_on_both_ideas_keeps_the_stronger_endorsement() -> None:
    source = Backed(endorsement("acme", "ana", CRITICAL, [BETA], impact="from source"))
    target = Backed(endorsement("acme", "ana", NICE, [PREORDER], minutes=5))
    merged_pair(source, target)
    (kept,) = target.backing("acme").endorsements
    assert kept.importance is CRITICAL
    assert kept.impact == "from source"
    # A promise made on either idea still stands.
    assert kept.commitments == {BETA, PREORDER}
    # The same member on both ideas is still one member.
    assert (target.idea.organization_count, target.idea.endorsement_count) == (1, 1)


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
    ideas = {"source": Backed(), "target": Backed()}
    ideas[role].idea = replace(ideas[role].idea, status=status)
    with pytest.raises(FailedPrecondition, match=role):
        merged_pair(ideas["source"], ideas["target"])


def test_an_idea_cannot_be_merged_into_itself() -> None:
    backed = Backed()
    with pytest.raises(InvalidArgument) as raised:
        merged_pair(backed, backed)
    assert fields_of(raised.value) == {"target_idea_id"}


def test_merge_checks_both_expected_versions() -> None:
    source, target = Backed(version=3), Backed(version=5)
    with pytest.raises(Conflict, match="version 3"):
        merged_pair(source, target, T0, 2, 0)
    with pytest.raises(Conflict, match="version 5"):
        merged_pair(source, target, T0, 0, 4)
    assert merged_pair(source, target, T0, 3, 5).idea.version == 6


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
