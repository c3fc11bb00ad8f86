"""The stage ledger's pure rules: evidence folding, stage moves, gate transitions, the
use cases' decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum_common.errors import FailedPrecondition, InvalidArgument
from quorum_validation import lifecycle
from quorum_validation.gate import (
    Council,
    Endorsement,
    Evidence,
    Importance,
    Organization,
    evaluate,
)
from quorum_validation.lifecycle import GateChange, GateState, IdeaEvidence, Status
from quorum_validation.pipeline import default_pipeline

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PIPELINE = default_pipeline()


def endorsement(org: str, importance: Importance = Importance.IMPORTANT) -> Endorsement:
    return Endorsement(org, importance, frozenset(), NOW - timedelta(days=1))


def test_submission_starts_with_the_sponsors_endorsement() -> None:
    evidence = lifecycle.submitted("acme", endorsement("acme"), 1)
    assert evidence.sponsor_organization_id == "acme"
    assert [e.organization_id for e in evidence.counted()] == ["acme"]


def test_endorsements_replace_an_organizations_count_and_ignore_older_versions() -> None:
    evidence = lifecycle.submitted("acme", endorsement("acme"), 1)
    stronger = lifecycle.endorsed(evidence, endorsement("acme", Importance.CRITICAL), 2)
    assert stronger is not None
    assert stronger.endorsements["acme"].importance is Importance.CRITICAL
    assert lifecycle.endorsed(stronger, endorsement("beta"), 2) is None  # a replay
    assert lifecycle.endorsed(stronger, endorsement("beta"), 1) is None


def test_withdrawal_keeps_the_organizations_remaining_members() -> None:
    evidence = lifecycle.submitted("acme", endorsement("acme"), 1)
    evidence = lifecycle.endorsed(evidence, endorsement("beta", Importance.CRITICAL), 2) or evidence
    still = lifecycle.withdrawn(evidence, "beta", endorsement("beta", Importance.NICE_TO_HAVE), 3)
    assert still is not None
    assert still.endorsements["beta"].importance is Importance.NICE_TO_HAVE
    gone = lifecycle.withdrawn(still, "beta", None, 4)
    assert gone is not None
    assert set(gone.endorsements) == {"acme"}
    assert lifecycle.withdrawn(gone, "acme", None, 4) is None


def test_merge_takes_the_ideas_services_full_count() -> None:
    evidence = lifecycle.submitted("acme", endorsement("acme"), 3)
    merged = lifecycle.merged(evidence, [endorsement("acme"), endorsement("beta")], 4)
    assert merged is not None
    assert set(merged.endorsements) == {"acme", "beta"}


@pytest.mark.parametrize(
    ("previous", "stage", "holds", "change"),
    [
        (None, "DISCOVERY", True, GateChange.OPENED),
        (None, "DISCOVERY", False, None),
        (GateState("DISCOVERY", False), "DISCOVERY", True, GateChange.OPENED),
        (GateState("DISCOVERY", True), "DISCOVERY", True, None),
        (GateState("DISCOVERY", True), "DISCOVERY", False, GateChange.CLOSED),
        # After an advance the next gate is a different gate: it opens on its own.
        (GateState("DISCOVERY", True), "DESIGN", True, GateChange.OPENED),
        (GateState("DISCOVERY", True), "DESIGN", False, None),
    ],
)
def test_gate_events_only_on_transitions(
    previous: GateState | None, stage: str, holds: bool, change: GateChange | None
) -> None:
    assert lifecycle.gate_change(previous, stage, holds) is change


def test_advance_goes_only_to_the_next_stage() -> None:
    assert lifecycle.check_advance(PIPELINE, "IDEATION", Status.OPEN, "DISCOVERY", "i") == (
        "DISCOVERY"
    )
    with pytest.raises(FailedPrecondition, match="skipping DISCOVERY is not allowed"):
        lifecycle.check_advance(PIPELINE, "IDEATION", Status.OPEN, "DESIGN", "i")
    with pytest.raises(FailedPrecondition, match="IDEATION is not after DISCOVERY"):
        lifecycle.check_advance(PIPELINE, "DISCOVERY", Status.OPEN, "IDEATION", "i")
    with pytest.raises(InvalidArgument) as misspelt:
        lifecycle.check_advance(PIPELINE, "IDEATION", Status.OPEN, "MARS", "i")
    assert [v.field for v in misspelt.value.violations] == ["target_stage"]
    with pytest.raises(FailedPrecondition, match="end of the pipeline"):
        lifecycle.check_advance(PIPELINE, "LAUNCH", Status.OPEN, "LAUNCH", "i")
    with pytest.raises(FailedPrecondition, match="is DECLINED"):
        lifecycle.check_advance(PIPELINE, "IDEATION", Status.DECLINED, "DISCOVERY", "i")


def test_the_last_stage_launches() -> None:
    assert lifecycle.status_after_advance(PIPELINE, "LAUNCH") is Status.LAUNCHED
    assert lifecycle.status_after_advance(PIPELINE, "BETA") is Status.OPEN


def test_a_refusal_names_each_unmet_criterion_and_the_sentence() -> None:
    directory = {"mega": Organization("mega", "MegaCorp", "manufacturing", 10**9)}
    report = evaluate(
        PIPELINE.policy_into("DISCOVERY"),
        Evidence(endorsements=(endorsement("mega", Importance.CRITICAL),), organizations=directory),
        NOW,
    )
    refusal = lifecycle.refusal(report)
    assert str(refusal) == (
        "the gate into DISCOVERY does not hold: needs 2 more customers from 1 more segment; "
        "MegaCorp holds 100% of the weight, over the 50% cap"
    )
    assert [(v.subject, v.description.split(" (")[0]) for v in refusal.violations] == [
        ("min_customers", "requires 3, has 1"),
        ("min_segments", "requires 2, has 1"),
        ("max_share:mega", "requires 0.5, has 1"),
    ]


ORGS = [f"org{i}" for i in range(6)]
DIRECTORY = {
    org: Organization(org, org.upper(), ["retail", "health", "finance"][i % 3], 10**7 * (i + 1))
    for i, org in enumerate(ORGS)
}
step = st.tuples(
    st.sampled_from(["endorse", "withdraw"]),
    st.sampled_from(ORGS),
    st.sampled_from(list(Importance)),
)


def fold(history: list[tuple[str, str, Importance, int]]) -> IdeaEvidence:
    evidence = lifecycle.submitted("org0", endorsement("org0"), 1)
    for kind, org, importance, version in history:
        if kind == "endorse":
            folded = lifecycle.endorsed(evidence, endorsement(org, importance), version)
        else:
            folded = lifecycle.withdrawn(evidence, org, None, version)
        evidence = folded or evidence
    return evidence


@settings(max_examples=75, deadline=None)
@given(st.lists(step, max_size=12), st.data())
def test_replaying_an_ideas_history_gives_the_recorded_verdict(
    steps: list[tuple[str, str, Importance]], data: st.DataObject
) -> None:
    history = [(kind, org, imp, version) for version, (kind, org, imp) in enumerate(steps, 2)]
    recorded = evaluate(
        PIPELINE.policy_into("DISCOVERY"),
        Evidence(fold(history).counted(), "org0", DIRECTORY),
        NOW,
    )
    # Redelivery after a crash: the consumer re-reads from an earlier offset, so a
    # suffix of the history arrives again after what was already applied.
    replayed = list(history)
    for _ in range(data.draw(st.integers(min_value=0, max_value=2))):
        upto = data.draw(st.integers(min_value=0, max_value=len(replayed)))
        since = data.draw(st.integers(min_value=0, max_value=upto))
        replayed = replayed[:upto] + replayed[since:]
    again = evaluate(
        PIPELINE.policy_into("DISCOVERY"),
        Evidence(fold(replayed).counted(), "org0", DIRECTORY),
        NOW,
    )
    assert again == recorded


def test_an_event_applies_to_an_organization_only_if_newer_than_what_it_took() -> None:
    assert lifecycle.applies(3, 2)
    assert not lifecycle.applies(2, 2)  # the same fact again
    assert not lifecycle.applies(1, 2)  # overtaken
    assert lifecycle.applies(1, 0)  # an organization seen for the first time
    # An upgraded entry had applied everything up to its floor, for every organization.
    assert not lifecycle.applies(5, 0, floor=9)
    assert lifecycle.applies(10, 0, floor=9)


def test_each_idea_event_tells_the_version_it_completes() -> None:
    from quorum.events.v1 import events_pb2
    from quorum_validation.handler import told_version

    submitted = events_pb2.Event(idea_submitted=events_pb2.IdeaSubmitted(idea_version=1))
    endorsed = events_pb2.Event(idea_endorsed=events_pb2.IdeaEndorsed(idea_version=4))
    first_part = events_pb2.Event(
        ideas_merged=events_pb2.IdeasMerged(idea_version=9, part=1, parts=2)
    )
    last_part = events_pb2.Event(
        ideas_merged=events_pb2.IdeasMerged(idea_version=9, part=2, parts=2)
    )
    old_merge = events_pb2.Event(ideas_merged=events_pb2.IdeasMerged(idea_version=5))
    assert [told_version(e) for e in (submitted, endorsed, first_part, last_part, old_merge)] == [
        1,
        4,
        0,
        9,
        5,
    ]
    assert told_version(events_pb2.Event(gate_opened=events_pb2.GateOpened())) == 0


# --------------------------------------------------------------------------- decisions


def entry(stage: str = "DISCOVERY", status: Status = Status.OPEN) -> lifecycle.Entry:
    return lifecycle.Entry(
        idea_id="idea-1",
        tenant_id="acme",
        stage=stage,
        status=status,
        sponsor_organization_id="acme",
        council_votes={},
        gate=GateState("DESIGN", True),
        version=3,
        entered_stage_at=NOW - timedelta(days=9),
        next_stage=PIPELINE.next_stage(stage) or "",
    )


def test_a_move_enters_the_stage_with_no_verdict_yet_and_the_last_stage_launches() -> None:
    design = lifecycle.moved(entry(), PIPELINE, "DESIGN", NOW)
    assert (design.stage, design.status, design.gate) == ("DESIGN", Status.OPEN, None)
    assert (design.entered_stage_at, design.next_stage) == (NOW, "BUILD")
    launched = lifecycle.moved(entry("BETA"), PIPELINE, "LAUNCH", NOW)
    assert (launched.status, launched.next_stage) == (Status.LAUNCHED, "")


def test_a_declined_idea_has_no_gate_ahead() -> None:
    declined = lifecycle.declined(entry())
    assert (declined.status, declined.gate, declined.next_stage) == (Status.DECLINED, None, "")
    assert not declined.judged


def test_a_council_vote_counts_only_members_and_may_be_changed() -> None:
    council = Council("cab", "Advisory board", frozenset({"a", "b", "c"}))
    stage = lifecycle.voted_gate(entry(), PIPELINE)
    once, votes = lifecycle.voted(entry(), stage, council, "a", lifecycle.Vote(True, "", NOW))
    assert votes == lifecycle.CouncilVotes("DESIGN", 1, 0)
    again, votes = lifecycle.voted(once, stage, council, "a", lifecycle.Vote(False, "no", NOW))
    assert votes == lifecycle.CouncilVotes("DESIGN", 0, 1)
    assert again.votes_for("DESIGN") == {"cab": {"a": False}}
    assert once.votes_for("DESIGN") == {"cab": {"a": True}}  # the entry read stays as it was
    with pytest.raises(FailedPrecondition, match="not a member of council cab"):
        lifecycle.voted(entry(), stage, council, "stranger", lifecycle.Vote(True, "", NOW))
    with pytest.raises(FailedPrecondition, match="end of the pipeline"):
        lifecycle.voted_gate(entry("LAUNCH"), PIPELINE)
    with pytest.raises(FailedPrecondition, match="only OPEN ideas move"):
        lifecycle.voted_gate(entry(status=Status.DECLINED), PIPELINE)


def test_co_signing_twice_changes_nothing() -> None:
    signed = lifecycle.co_signed(entry(), "cab")
    assert signed is not None
    assert signed.co_signed_by == ("cab",)
    assert lifecycle.co_signed(signed, "cab") is None
    both = lifecycle.co_signed(signed, "board")
    assert both is not None
    assert both.co_signed_by == ("board", "cab")
