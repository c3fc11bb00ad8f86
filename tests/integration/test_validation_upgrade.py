"""Validation's evidence from before the records, upgraded against the real MongoDB: an
upgraded ledger judges as one built from the same history, and entries from before idea
versions get the version they folded.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from conftest import Isolation

from quorum_validation.lifecycle import GateState, IdeaEvidence
from quorum_validation.messages import endorsement_document, endorsement_of
from quorum_validation.migration import migrate_embedded_evidence, migrate_idea_versions
from support.servers import Servers
from support.validation import (
    START,
    Validation,
    endorsed,
    endorsement,
    organization_message,
    parts_on,
    submitted,
    withdrawn,
)
from support.validation_records import (
    ACTIVE,
    ORGS,
    SEGMENTS,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def validation(infra: Servers, isolation: Isolation) -> AsyncIterator[Validation]:
    # Rebuilds count 3 records per transaction: most of them take several.
    async with parts_on(infra.mongodb_uri, isolation.database("validation"), chunk=3) as parts:
        yield parts


# --------------------------------------------------------------------------- upgrade


async def _migrate(validation: Validation) -> int:
    """What a start of the service does to entries of the embedded layout; how many moved."""
    return await migrate_embedded_evidence(
        validation.client,
        validation.database,
        validation.evidence,
        validation.policies,
        validation.judging,
        validation.clock,
    )


def _old_layout(tenant: str, idea_id: str, evidence: IdeaEvidence, at: datetime) -> dict[str, Any]:
    """A ledger entry as the layout before evidence records kept it."""
    return {
        "_id": idea_id,
        "tenant_id": tenant,
        "stage": "IDEATION",
        "status": "OPEN",
        "sponsor_organization_id": evidence.sponsor_organization_id,
        "endorsements": [endorsement_document(e) for e in evidence.counted()],
        "idea_version": evidence.idea_version,
        "council_votes": [],
        "overridden": False,
        "co_signed_by": [],
        "gate": {"stage": "DISCOVERY", "holds": False},
        "version": 7,
        "entered_stage_at": at,
        "merged_into": "",
    }


async def test_an_upgraded_ledger_judges_as_one_built_from_the_same_history(
    validation: Validation,
) -> None:
    tenant = "upgrading"
    for i, oid in enumerate(ORGS):
        await validation.organization(
            tenant,
            organization_message(
                oid,
                (SEGMENTS[i % 3], 10_000_000 * (i + 1), ACTIVE, False, "org1" if i == 5 else ""),
            ),
        )
    at = START
    old_id, new_id = str(uuid.uuid4()), str(uuid.uuid4())
    # One history, folded by the old layout's rules and consumed by the new handler.
    history = [
        endorsed(tenant, new_id, endorsement(oid, 1 + i % 3, (1,) if i % 2 else (), at), i + 2)
        for i, oid in enumerate(ORGS[1:])
    ] + [withdrawn(tenant, new_id, "org4", 9)]
    old = IdeaEvidence("org0", {"org0": endorsement_of(endorsement("org0", 2, (), at))}, 1)
    for event in history:
        if event.WhichOneof("payload") == "idea_endorsed":
            e = endorsement_of(event.idea_endorsed.organization_endorsement)
            old = replace(old, endorsements={**old.endorsements, e.organization_id: e})
            old = replace(old, idea_version=event.idea_endorsed.idea_version)
        else:
            gone = dict(old.endorsements)
            gone.pop(event.endorsement_withdrawn.organization_id)
            old = IdeaEvidence("org0", gone, event.endorsement_withdrawn.idea_version)
    await validation.database["stage_ledger"].insert_one(_old_layout(tenant, old_id, old, at))
    await validation.consume([submitted(tenant, new_id, "org0", at), *history])

    assert await _migrate(validation) == 1
    # Migrated once: a second start (or a crash before it) finds nothing left to do.
    assert await _migrate(validation) == 0
    upgraded = await validation.ledger.entry(tenant, old_id)
    assert upgraded.version == 7  # an upgrade is no change of the idea's
    assert upgraded.version_floor == 9
    assert upgraded.organization_count == len(ORGS) - 1
    assert upgraded.gate == GateState("DISCOVERY", False)  # as judged before the upgrade
    # 7 organizations, 3 per transaction: the re-evaluator finishes the tally.
    assert upgraded.tally is not None
    assert upgraded.tally.pending
    await validation.reevaluator.finish_rebuilds()

    _, _, old_report = await validation.gates.gate_report(tenant, old_id)
    _, _, new_report = await validation.gates.gate_report(tenant, new_id)
    assert old_report is not None
    assert new_report is not None
    assert old_report == new_report
    _, kept_old, plain_old = await validation.verdicts(tenant, old_id)
    _, kept_new, _ = await validation.verdicts(tenant, new_id)
    assert (kept_old.criteria, kept_old.summary) == (plain_old.criteria, plain_old.summary)
    assert (kept_old.criteria, kept_old.summary) == (kept_new.criteria, kept_new.summary)

    # The ledger has folded what each history told: readers waiting for it see so.
    assert upgraded.idea_version == 9
    assert (await validation.ledger.entry(tenant, new_id)).idea_version == 9

    # An event the old layout had applied does not apply again; a newer one does.
    await validation.consume([endorsed(tenant, old_id, endorsement("org4", 3, (), at), 5)])
    assert (await validation.ledger.entry(tenant, old_id)).organization_count == len(ORGS) - 1
    await validation.consume([endorsed(tenant, old_id, endorsement("org4", 3, (), at), 10)])
    after = await validation.ledger.entry(tenant, old_id)
    assert (after.organization_count, after.idea_version) == (len(ORGS), 10)


async def test_entries_from_before_idea_versions_get_the_version_they_folded(
    validation: Validation,
) -> None:
    tenant, idea_id, at = "versions", str(uuid.uuid4()), START
    await validation.consume(
        [
            submitted(tenant, idea_id, "org0", at),
            endorsed(tenant, idea_id, endorsement("org1", 2, (), at), 2),
            endorsed(tenant, idea_id, endorsement("org2", 2, (), at), 3),
            withdrawn(tenant, idea_id, "org1", 4),
        ]
    )
    ledger = validation.database["stage_ledger"]
    await ledger.update_one({"_id": idea_id}, {"$unset": {"idea_version": ""}})
    assert await migrate_idea_versions(validation.database) == 1
    assert (await validation.ledger.entry(tenant, idea_id)).idea_version == 4
    assert await migrate_idea_versions(validation.database) == 0
