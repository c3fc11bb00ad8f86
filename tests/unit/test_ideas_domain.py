"""The ideas service's pure rules (SPEC, "Idea lifecycle"): how endorsements count per
organization, endorsing, withdrawal, merging and the projected status (the store's
part is played by support/ideas_domain.py's `Backed`)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from quorum_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from quorum_ideas.domain import (
    Member,
    Status,
    count_by_organization,
    merge,
    projected_status,
    stronger,
)
from quorum_ideas.requests import (
    check_endorse,
    check_merge,
    check_withdraw,
)
from support.ideas_domain import (
    BETA,
    CO_DEVELOP,
    CRITICAL,
    IMPORTANT,
    NICE,
    PREORDER,
    T0,
    TENANT,
    Backed,
    endorsement,
    fields_of,
    member,
    merged_pair,
)

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
