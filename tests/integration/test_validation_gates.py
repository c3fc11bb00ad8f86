"""The validation service's gates against the real broker and MongoDB.

Idea events are published to Kafka exactly as the ideas service publishes them; the
validation service runs in-process; its events are read back from Kafka.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2

from integration.conftest import RunningValidation
from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_validation.decisions import Decisions
from quorum_validation.gate import Evidence, evaluate
from quorum_validation.messages import endorsement_from, organization_from, policy_from
from support import events
from support.kafka import Collector, publish
from support.newcomer import PM, TENANT, organizations
from support.statuses import bad_field_names, status_of
from support.waiting import until

if TYPE_CHECKING:
    from quorum.validation.v1.validation_pb2_grpc import GateServiceAsyncStub

pytestmark = pytest.mark.integration


async def populate(service: RunningValidation) -> None:
    directory = validation_pb2_grpc.DirectoryServiceStub(service.channel)
    for entry in organizations():
        await directory.UpsertOrganization(
            validation_pb2.UpsertOrganizationRequest(tenant_id=TENANT, organization=entry)
        )


def gates(service: RunningValidation) -> GateServiceAsyncStub:
    return validation_pb2_grpc.GateServiceStub(service.channel)


async def advance(
    service: RunningValidation, idea_id: str, target: str
) -> validation_pb2.AdvanceStageResponse:
    """The product manager's AdvanceStage of the idea into `target`."""
    return await gates(service).AdvanceStage(
        validation_pb2.AdvanceStageRequest(
            tenant_id=TENANT, idea_id=idea_id, target_stage=target, actor=PM
        )
    )


def idea_history(sponsor: str, *endorsers: str) -> tuple[str, list[events_pb2.Event]]:
    """An idea submitted by a member of `sponsor`, then endorsed by each of `endorsers` in
    turn (idea versions 2, 3, ...): its id and its events."""
    idea = events.submitted(TENANT, sponsor)
    idea_id = idea.envelope.idea_id
    endorsed = [
        events.endorsed(TENANT, idea_id, organization, version)
        for version, organization in enumerate(endorsers, start=2)
    ]
    return idea_id, [idea, *endorsed]


async def recorded(service: RunningValidation, collector: Collector, idea_id: str) -> None:
    await collector.wait_for(
        lambda: any(
            e.stage_advanced.to_stage == "IDEATION"
            for e in collector.events("StageAdvanced", idea_id)
        ),
        f"idea {idea_id} entering IDEATION",
    )


async def counted(service: RunningValidation, idea_id: str, organizations: int) -> None:
    """Wait until the ledger has applied that many organizations' endorsements."""

    async def all_counted() -> bool:
        try:
            progress = await gates(service).GetIdeaProgress(
                validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=idea_id)
            )
        except grpc.aio.AioRpcError as error:  # not recorded yet
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return False
        return progress.organization_count == organizations

    await until(all_counted, f"the ledger counting {organizations} organizations", 30)


async def test_one_huge_customer_cannot_carry_an_idea(validation: RunningValidation) -> None:
    await populate(validation)
    idea = events.submitted(TENANT, "megacorp", domain_pb2.IMPORTANCE_CRITICAL)
    idea_id = idea.envelope.idea_id
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, idea)
        await recorded(validation, collector, idea_id)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await advance(validation, idea_id, "DISCOVERY")
        error = refused.value
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (
            "needs 2 more customers from 1 more segment; "
            "MegaCorp holds 100% of the weight, over the 50% cap"
        ) in (error.details() or "")
        details = status_of(error)
        failure = error_details_pb2.PreconditionFailure()
        report = domain_pb2.GateReport()
        assert details.details[0].Unpack(failure)
        assert details.details[1].Unpack(report)
        assert {v.subject for v in failure.violations} == {
            "min_customers",
            "min_segments",
            "max_share:megacorp",
        }
        unmet = {c.name: (c.required, c.actual) for c in report.criteria if not c.met}
        assert unmet == {"min_customers": (3, 1), "min_segments": (2, 1), "max_share": (0.5, 1.0)}

        await collector.wait_for(
            lambda: bool(collector.events("StageAdvanceRejected", idea_id)), "the rejection"
        )
        rejection = collector.events("StageAdvanceRejected", idea_id)[0].stage_advance_rejected
        assert rejection.to_stage == "DISCOVERY"
        assert rejection.actor.principal_id == "pm-1"
        assert not rejection.report.holds

    progress = await gates(validation).GetIdeaProgress(
        validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=idea_id)
    )
    assert progress.stage == "IDEATION"


async def test_five_small_customers_in_three_industries_pass_discovery_and_design(
    validation: RunningValidation,
) -> None:
    await populate(validation)
    idea_id, history = idea_history("bakery", "clinic", "shop", "bank", "lab")
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, *history)
        await collector.wait_for(
            lambda: bool(collector.events("GateOpened", idea_id)), "the DISCOVERY gate opening"
        )
        assert collector.events("GateOpened", idea_id)[0].gate_opened.stage == "DISCOVERY"
        await counted(validation, idea_id, 5)

        for target in ("DISCOVERY", "DESIGN"):
            answer = await advance(validation, idea_id, target)
            assert answer.stage == target
            assert answer.report.holds

        await collector.wait_for(
            lambda: len(collector.events("StageAdvanced", idea_id)) == 3, "both advances"
        )
        moves = [
            (e.stage_advanced.from_stage, e.stage_advanced.to_stage)
            for e in collector.events("StageAdvanced", idea_id)
        ]
        assert moves == [("", "IDEATION"), ("IDEATION", "DISCOVERY"), ("DISCOVERY", "DESIGN")]

    # Every decision keeps its policy version and weights; replaying them agrees.
    decisions = await validation.database["decisions"].find({"idea_id": idea_id}).to_list()
    kept = Decisions(validation.database)
    directory = {
        d["organization_id"]: organization_from(d)
        async for d in validation.database["organizations"].find({"tenant_id": TENANT})
    }
    assert [d["kind"] for d in decisions] == ["ADVANCED", "ADVANCED"]
    for decision in decisions:
        assert decision["report"]["policy_version"] == decision["policy"]["version"] == 1
        assert len(decision["report"]["weights"]) == 5
        frozen, weights = await kept.snapshot(decision)
        assert len(weights) == 5
        replayed = evaluate(
            policy_from(decision["policy"]),
            Evidence(
                endorsements=tuple(endorsement_from(e) for e in frozen),
                sponsor_organization_id=decision["sponsor_organization_id"],
                organizations=directory,
            ),
            decision["report"]["evaluated_at"],
        )
        assert replayed.holds
        assert [(c.name, c.actual) for c in replayed.criteria] == [
            (c["name"], c["actual"]) for c in decision["report"]["criteria"]
        ]


async def test_every_event_delivered_twice_changes_nothing(validation: RunningValidation) -> None:
    await populate(validation)
    idea_id, history = idea_history("bakery", "clinic", "bank")
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        # Each event twice (a relay that crashed before marking them published) ...
        await publish(validation.bootstrap, validation.topics.ideas, *history, *history)
        # ... and the same facts again under new event ids (a replayed history).
        replayed = [events.endorsed(TENANT, idea_id, "clinic", 2)]
        await publish(validation.bootstrap, validation.topics.ideas, *replayed)
        # Same idea, same partition: once it is applied, everything before it is too.
        marker = events.endorsed(TENANT, idea_id, "shop", 4)
        await publish(validation.bootstrap, validation.topics.ideas, marker)
        await counted(validation, idea_id, 4)
        await collector.wait_for(
            lambda: bool(collector.events("GateOpened", idea_id)), "the gate opening"
        )
        assert len(collector.events("GateOpened", idea_id)) == 1
        assert len(collector.events("StageAdvanced", idea_id)) == 1

    progress = await gates(validation).GetIdeaProgress(
        validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=idea_id)
    )
    assert progress.organization_count == 4
    assert progress.next_gate_holds
    processed = await validation.database["processed_events"].count_documents({})
    assert processed == 5  # 3 + the replayed fact + the marker, each once


async def test_a_withdrawal_closes_an_open_gate(validation: RunningValidation) -> None:
    await populate(validation)
    idea_id, history = idea_history("bakery", "clinic", "bank")
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, *history)
        await collector.wait_for(
            lambda: bool(collector.events("GateOpened", idea_id)), "the gate opening"
        )
        await publish(
            validation.bootstrap,
            validation.topics.ideas,
            events.withdrawn(TENANT, idea_id, "bank", 4),
        )
        await collector.wait_for(
            lambda: bool(collector.events("GateClosed", idea_id)), "the gate closing"
        )
        closed = collector.events("GateClosed", idea_id)[0].gate_closed
        assert closed.stage == "DISCOVERY"
        assert not closed.report.holds
        # Two customers left: too few, and the bigger one holds 56% of the weight.
        assert [c.name for c in closed.report.criteria if not c.met] == [
            "min_customers",
            "max_share",
        ]


async def test_a_poison_message_is_dead_lettered_and_the_next_one_processed(
    validation: RunningValidation,
) -> None:
    good = events.submitted(TENANT, "bakery")
    wrong_schema = events.submitted(TENANT, "bakery")
    wrong_schema.envelope.schema_version = 99
    dead_letters = validation.topics.dead_letter("validation")
    async with (
        Collector(validation.bootstrap, validation.topics.validation) as collector,
        Collector(validation.bootstrap, dead_letters) as dlq,
    ):
        await publish(
            validation.bootstrap,
            validation.topics.ideas,
            b"\xff\x00 not a protobuf",
            wrong_schema,
            good,
        )
        await recorded(validation, collector, good.envelope.idea_id)
        await dlq.wait_for(lambda: len(dlq.records) == 2, "two dead letters")
    # The two went to different partitions (by key), so their dead letters come in
    # either order.
    reasons = {dict(r.headers)["quorum-dlq-reason"].decode(): r.value for r in dlq.records}
    undecodable = [value for reason, value in reasons.items() if reason.startswith("undecodable")]
    assert undecodable == [b"\xff\x00 not a protobuf"]
    assert any("schema_version 99 is not supported" in reason for reason in reasons)


async def test_skipping_a_stage_and_moving_a_declined_idea_are_refused(
    validation: RunningValidation,
) -> None:
    idea = events.submitted(TENANT, "bakery")
    idea_id = idea.envelope.idea_id
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, idea)
        await recorded(validation, collector, idea_id)
        stub = gates(validation)
        with pytest.raises(grpc.aio.AioRpcError) as skipped:
            await advance(validation, idea_id, "DESIGN")
        assert skipped.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "skipping DISCOVERY is not allowed" in (skipped.value.details() or "")

        progress = await stub.GetIdeaProgress(
            validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=idea_id)
        )
        with pytest.raises(grpc.aio.AioRpcError) as stale:
            await stub.DeclineIdea(
                validation_pb2.DeclineIdeaRequest(
                    tenant_id=TENANT,
                    idea_id=idea_id,
                    reason="Out of scope",
                    actor=PM,
                    expected_version=progress.version + 7,
                )
            )
        assert stale.value.code() == grpc.StatusCode.ABORTED

        await stub.DeclineIdea(
            validation_pb2.DeclineIdeaRequest(
                tenant_id=TENANT,
                idea_id=idea_id,
                reason="Out of scope for the 2027 roadmap",
                actor=PM,
                expected_version=progress.version,
            )
        )
        await collector.wait_for(
            lambda: bool(collector.events("IdeaDeclined", idea_id)), "the decline"
        )
        declined = collector.events("IdeaDeclined", idea_id)[0].idea_declined
        assert declined.reason == "Out of scope for the 2027 roadmap"
        with pytest.raises(grpc.aio.AioRpcError) as closed:
            await advance(validation, idea_id, "DISCOVERY")
        assert closed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "DECLINED" in (closed.value.details() or "")


async def test_a_policy_change_reevaluates_open_ideas(validation: RunningValidation) -> None:
    await populate(validation)
    idea_id, history = idea_history("bakery", "clinic")
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, *history)
        policies = validation_pb2_grpc.PolicyServiceStub(validation.channel)
        stub = gates(validation)
        await counted(validation, idea_id, 2)
        report = await stub.GetGateReport(
            validation_pb2.GetGateReportRequest(tenant_id=TENANT, idea_id=idea_id)
        )
        assert not report.report.holds
        assert report.report.summary == (
            "needs 1 more customer; Bakery Co holds 56% of the weight, over the 50% cap"
        )

        updated = await policies.UpdateGatePolicy(
            validation_pb2.UpdateGatePolicyRequest(
                tenant_id=TENANT,
                policy=domain_pb2.GatePolicy(
                    stage="DISCOVERY",
                    min_customers=2,
                    min_segments=2,
                    max_share=0.6,
                    weighting=domain_pb2.WEIGHTING_EQUAL,
                ),
            )
        )
        assert updated.policy.version == 2
        await collector.wait_for(
            lambda: bool(collector.events("GateOpened", idea_id)), "re-evaluation opening the gate"
        )
        assert collector.events("GateOpened", idea_id)[0].gate_opened.report.policy_version == 2


async def _bad_fields(call: Awaitable[object]) -> set[str]:
    """The fields a call refused as INVALID_ARGUMENT names."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return bad_field_names(raised.value)


async def test_bad_requests_name_every_bad_field(validation: RunningValidation) -> None:
    stub = gates(validation)
    advance = stub.AdvanceStage(validation_pb2.AdvanceStageRequest(idea_id="nope"))
    # Whose the request is comes first (quorum_common.callers), then every other field.
    assert await _bad_fields(advance) == {"tenant_id", "actor.principal_id"}
    advance = stub.AdvanceStage(
        validation_pb2.AdvanceStageRequest(
            tenant_id=TENANT, idea_id="nope", actor=domain_pb2.Actor(principal_id="pat")
        )
    )
    assert await _bad_fields(advance) == {"idea_id", "target_stage"}

    directory = validation_pb2_grpc.DirectoryServiceStub(validation.channel)
    nameless = domain_pb2.Organization(
        organization_id="has space", name="", segment="retail", arr=-1
    )
    upsert = directory.UpsertOrganization(
        validation_pb2.UpsertOrganizationRequest(tenant_id=TENANT, organization=nameless)
    )
    assert await _bad_fields(upsert) == {
        "organization.organization_id",
        "organization.name",
        "organization.arr",
        "organization.relationship",
    }

    policies = validation_pb2_grpc.PolicyServiceStub(validation.channel)
    nowhere = domain_pb2.GatePolicy(stage="NOWHERE", max_share=1.5)
    update = policies.UpdateGatePolicy(
        validation_pb2.UpdateGatePolicyRequest(tenant_id=TENANT, policy=nowhere)
    )
    assert await _bad_fields(update) == {"policy.max_share", "policy.weighting"}

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetIdeaProgress(
            validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=str(uuid.uuid4()))
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
