"""Histories of one idea for the tests of validation's evidence as records: the cast, the
generated steps, what each organization's evidence must end as, and the check that the
ledger's verdict is exactly `gate.evaluate`'s over the records it reads back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_validation.evidence import report_weights
from quorum_validation.gate import Endorsement
from quorum_validation.handler import facts
from quorum_validation.lifecycle import GateState
from support.validation import (
    Validation,
)

ORGS = [f"org{i}" for i in range(7)]
SEGMENTS = ["retail", "health", "finance"]
ACTIVE, PROSPECT, CHURNED = (
    domain_pb2.RELATIONSHIP_ACTIVE,
    domain_pb2.RELATIONSHIP_PROSPECT,
    domain_pb2.RELATIONSHIP_CHURNED,
)


# --------------------------------------------------------------------------- histories

organization_drawn = st.tuples(
    st.sampled_from(SEGMENTS),
    st.sampled_from([0, 3_000_000, 20_000_000, 400_000_000]),
    st.sampled_from([ACTIVE, ACTIVE, PROSPECT, CHURNED]),
    st.sampled_from([False, False, False, True]),
    # Parents often, so that customers with several members (affiliates) are common.
    st.sampled_from(["", "", "org1", "org2", "holding"]),
)
policy_drawn = st.builds(
    lambda customers, share, weighting, affiliates, sponsor, age, active: domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=customers,
        min_segments=2,
        max_share=share,
        min_active=active,
        weighting=weighting,
        affiliates_count_once=affiliates,
        sponsor_excluded=sponsor,
        max_age_days=age,
    ),
    st.integers(1, 4),
    st.sampled_from([0.0, 0.5, 0.7]),
    st.sampled_from(
        [domain_pb2.WEIGHTING_EQUAL, domain_pb2.WEIGHTING_ARR_LOG, domain_pb2.WEIGHTING_ARR_LINEAR]
    ),
    st.sampled_from([True, True, False]),  # affiliates count once
    st.booleans(),
    st.sampled_from([0, 0, 5, 20]),
    st.sampled_from([0, 2]),
)
endorsement_drawn = st.tuples(
    st.sampled_from(ORGS),
    st.sampled_from([1, 2, 3]),
    st.lists(st.sampled_from([1, 2, 3]), max_size=2, unique=True),  # commitments
    st.integers(0, 30),  # days before now
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("endorse"), st.lists(endorsement_drawn, min_size=1, max_size=5)),
        st.tuples(st.just("withdraw"), st.sampled_from(ORGS)),
        st.tuples(
            st.just("merge"),
            st.lists(st.lists(endorsement_drawn, min_size=1, max_size=3), min_size=1, max_size=3),
        ),
        st.tuples(st.just("replay"), st.tuples(st.integers(0, 50), st.integers(1, 8))),
        st.tuples(
            st.just("directory"), st.tuples(st.sampled_from([*ORGS, "holding"]), organization_drawn)
        ),
        st.tuples(st.just("policy"), policy_drawn),
        st.tuples(st.just("clock"), st.integers(1, 12)),
        st.tuples(st.just("finish"), st.none()),
    ),
    max_size=10,
)


@dataclass
class History:
    tenant: str
    idea_id: str
    source_id: str
    version: int = 1
    sent: list[events_pb2.Event] = field(default_factory=list)
    # What each organization's evidence must be: its fact with the highest version.
    expected: dict[str, tuple[int, Endorsement | None]] = field(default_factory=dict)
    # The gate as last judged on a complete tally (a rebuild under way leaves it be).
    judged: GateState | None = None

    def send(self, events: Sequence[events_pb2.Event]) -> None:
        for event in events:
            self.sent.append(event)
            if event.envelope.idea_id != self.idea_id:
                continue
            for oid, counted, _, version in facts(event):
                if version > self.expected.get(oid, (0, None))[0]:
                    self.expected[oid] = (version, counted)


def fresh(event: events_pb2.Event) -> events_pb2.Event:
    """The same fact under a new event id (a replayed history)."""
    again = events_pb2.Event()
    again.CopyFrom(event)
    again.envelope.event_id = str(uuid.uuid4())
    return again


async def check(validation: Validation, history: History) -> None:
    records = await validation.evidence.idea_records(None, history.tenant, history.idea_id)
    assert {r.organization_id: r.endorsement for r in records} == {
        oid: e for oid, (_, e) in history.expected.items() if e is not None
    }
    entry = await validation.ledger.entry(history.tenant, history.idea_id)
    if entry.tally is not None and entry.tally.pending:
        # A rebuild is under way: the gate is judged once it has counted everyone.
        assert entry.gate == history.judged
        return
    entry, kept, plain = await validation.verdicts(history.tenant, history.idea_id)
    history.judged = entry.gate
    assert kept.holds == plain.holds
    assert kept.criteria == plain.criteria
    assert kept.summary == plain.summary
    assert entry.gate == GateState(plain.stage, plain.holds)
    assert entry.organization_count == len(plain.weights)
    assert entry.tally is not None
    assert not entry.tally.pending
    listed = await validation.evidence.listed(
        None, history.tenant, history.idea_id, entry.tally.generation
    )
    total = entry.tally.standing().total_weight
    assert report_weights(listed, total, entry.sponsor_organization_id) == plain.weights[:100]
