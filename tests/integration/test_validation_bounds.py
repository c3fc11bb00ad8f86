"""A stored policy can no longer break a gate: numbers out of bounds are refused when
written, and documents stored out of bounds before are still evaluated (clamped)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from integration.conftest import RunningValidation
from integration.test_validation_gates import gates, populate, recorded
from quorum.domain.v1 import domain_pb2
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_validation.messages import policy_document
from quorum_validation.pipeline import default_pipeline
from quorum_validation.policies import PIPELINES
from support import events
from support.kafka import Collector, publish
from support.newcomer import PM, TENANT
from support.statuses import bad_fields

pytestmark = pytest.mark.integration


def _draft(**fields: Any) -> domain_pb2.GatePolicy:
    shown: dict[str, Any] = {
        "stage": "DISCOVERY",
        "min_customers": 3,
        "max_share": 0.5,
        "weighting": domain_pb2.WEIGHTING_ARR_LINEAR,
    }
    return domain_pb2.GatePolicy(**{**shown, **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"max_age_days": 2147483648}, "max_age_days"),
        ({"min_weight": 1e308}, "min_weight"),
        (
            {"relationship_factors": domain_pb2.RelationshipFactors(active=1e308, prospect=0.5)},
            "relationship_factors.active",
        ),
        ({"min_customers": 4_000_000_000}, "min_customers"),
    ],
)
async def test_policies_out_of_bounds_are_refused_by_update_and_what_if(
    validation: RunningValidation, fields: dict[str, Any], field: str
) -> None:
    policies = validation_pb2_grpc.PolicyServiceStub(validation.channel)
    insights = validation_pb2_grpc.InsightsServiceStub(validation.channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await policies.UpdateGatePolicy(
            validation_pb2.UpdateGatePolicyRequest(tenant_id=TENANT, policy=_draft(**fields))
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(bad_fields(refused.value)) == [f"policy.{field}"]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await insights.WhatIf(
            validation_pb2.WhatIfRequest(tenant_id=TENANT, draft=_draft(**fields))
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(bad_fields(refused.value)) == [f"draft.{field}"]


async def test_councils_with_a_quorum_out_of_bounds_are_refused(
    validation: RunningValidation,
) -> None:
    directory = validation_pb2_grpc.DirectoryServiceStub(validation.channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await directory.UpsertCouncil(
            validation_pb2.UpsertCouncilRequest(
                tenant_id=TENANT,
                council=domain_pb2.Council(council_id="cab", name="CAB", quorum=5.0),
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(bad_fields(refused.value)) == ["council.quorum"]


async def test_documents_stored_out_of_bounds_before_still_evaluate(
    validation: RunningValidation,
) -> None:
    await populate(validation)
    # What UpdateGatePolicy and UpsertCouncil accepted before they checked bounds.
    pipeline = default_pipeline()
    stored = [policy_document(pipeline.policies[s]) for s in pipeline.stages[1:]]
    stored[0].update(
        min_weight=1e308,
        max_age_days=2147483648,
        relationship_factors={"ACTIVE": 1e308, "PROSPECT": float("nan"), "CHURNED": 0.5},
    )
    await validation.database[PIPELINES].replace_one(
        {"_id": TENANT},
        {"_id": TENANT, "stages": list(pipeline.stages), "policies": stored},
        upsert=True,
    )
    await validation.database["councils"].insert_one(
        {
            "_id": f"{TENANT}/cab",
            "tenant_id": TENANT,
            "council_id": "cab",
            "name": "CAB",
            "charter": "",
            "member_organization_ids": ["bakery"],
            "quorum": 5.0,
        }
    )
    await validation.database["organizations"].update_one(
        {"_id": f"{TENANT}/megacorp"}, {"$set": {"arr": 2**63 - 1}}
    )
    idea = events.submitted(TENANT, "megacorp", domain_pb2.IMPORTANCE_CRITICAL)
    idea_id = idea.envelope.idea_id
    async with Collector(validation.bootstrap, validation.topics.validation) as collector:
        await publish(validation.bootstrap, validation.topics.ideas, idea)
        await recorded(validation, collector, idea_id)

    answer = await gates(validation).GetGateReport(
        validation_pb2.GetGateReportRequest(tenant_id=TENANT, idea_id=idea_id)
    )
    assert answer.next_stage == "DISCOVERY"
    assert not answer.report.holds
    unmet = {c.name: c.required for c in answer.report.criteria if not c.met}
    assert unmet["min_weight"] == 1e12  # the bound, not 1e308
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gates(validation).AdvanceStage(
            validation_pb2.AdvanceStageRequest(
                tenant_id=TENANT, idea_id=idea_id, target_stage="DISCOVERY", actor=PM
            )
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    insights = validation_pb2_grpc.InsightsServiceStub(validation.channel)
    verdicts = await insights.WhatIf(validation_pb2.WhatIfRequest(tenant_id=TENANT, draft=_draft()))
    assert verdicts.stage == "DISCOVERY"
