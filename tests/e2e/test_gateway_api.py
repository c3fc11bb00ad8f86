"""The public API through the real gateway process, as each kind of caller sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.ledger import customers_counted
from support.newcomer import submission
from support.statuses import bad_field_names, status_of
from support.waiting import until

pytestmark = pytest.mark.e2e

ACTIVE = domain_pb2.RELATIONSHIP_ACTIVE
DIRECTORY = [
    ("megacorp", "MegaCorp", "manufacturing", 500_000_000, False),
    ("bakery", "Bakery Co", "retail", 50_000_000, False),
    ("clinic", "Clinic Ltd", "health", 40_000_000, True),
    ("shop", "Shop GmbH", "retail", 45_000_000, False),
    ("bank", "Bank AG", "finance", 48_000_000, True),
    ("lab", "Lab Inc", "health", 42_000_000, False),
]


class Caller:
    """One caller's stubs of the public services, on its own channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.ideas = gateway_pb2_grpc.IdeasServiceStub(channel)
        self.gates = gateway_pb2_grpc.GatesServiceStub(channel)
        self.directory = gateway_pb2_grpc.DirectoryServiceStub(channel)
        self.policies = gateway_pb2_grpc.PolicyServiceStub(channel)
        self.access = gateway_pb2_grpc.AccessServiceStub(channel)
        self.events = gateway_pb2_grpc.EventsServiceStub(channel)
        self.insights = gateway_pb2_grpc.InsightsServiceStub(channel)
        self.peers = gateway_pb2_grpc.PeersServiceStub(channel)


@dataclass
class Tenant:
    admin: Caller
    pm: Caller
    customers: dict[str, Caller]
    integration: Caller
    address: str


async def key(admin: Caller, role: Any, principal_id: str, **fields: Any) -> str:
    created = await admin.access.CreateApiKey(
        gateway_pb2.CreateApiKeyRequest(
            principal_id=principal_id, display_name=principal_id, role=role, **fields
        )
    )
    return created.secret


@pytest.fixture
async def tenant(running: platform.Platform, gateway: grpc.aio.Channel) -> AsyncIterator[Tenant]:
    """A tenant with a directory and a key per role, each with its own channel."""
    admin = Caller(gateway)
    for org_id, name, segment, arr, peer in DIRECTORY:
        await admin.directory.UpsertOrganization(
            gateway_pb2.UpsertOrganizationRequest(
                organization=domain_pb2.Organization(
                    organization_id=org_id,
                    name=name,
                    segment=segment,
                    arr=arr,
                    relationship=ACTIVE,
                    peer_visible=peer,
                )
            )
        )
    address = running.address("gateway")
    secrets = {
        "pm": await key(admin, gateway_pb2.ROLE_PRODUCT_MANAGER, "pat"),
        "integration": await key(
            admin, gateway_pb2.ROLE_INTEGRATION, "helpdesk", organization_ids=["bakery", "shop"]
        ),
    }
    for org_id, *_ in DIRECTORY:
        secrets[org_id] = await key(
            admin,
            gateway_pb2.ROLE_CUSTOMER,
            f"{org_id}-member",
            organization_id=org_id,
            member_id=f"{org_id}-member",
        )
    channels = {name: channel(address, secret) for name, secret in secrets.items()}
    try:
        yield Tenant(
            admin=admin,
            pm=Caller(channels["pm"]),
            customers={o: Caller(channels[o]) for o, *_ in DIRECTORY},
            integration=Caller(channels["integration"]),
            address=address,
        )
    finally:
        for open_channel in channels.values():
            await open_channel.close()


async def refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def test_the_newcomer_scenario_through_the_gateway(tenant: Tenant) -> None:
    mega = tenant.customers["megacorp"]
    blocked = (await mega.ideas.SubmitIdea(submission())).idea
    big = await mega.ideas.EndorseIdea(
        gateway_pb2.EndorseIdeaRequest(
            idea_id=blocked.id, importance=domain_pb2.IMPORTANCE_CRITICAL
        )
    )
    assert big.changed

    async def recorded(idea_id: str) -> bool:
        got = await tenant.pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))
        return got.idea.stage == "IDEATION"

    await until(lambda: recorded(blocked.id), "MegaCorp's idea recorded")
    error = await refused(
        tenant.pm.gates.AdvanceStage(
            gateway_pb2.AdvanceStageRequest(idea_id=blocked.id, target_stage="DISCOVERY")
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (
        "needs 2 more customers from 1 more segment; "
        "MegaCorp holds 100% of the weight, over the 50% cap"
    ) in (error.details() or "")

    modest = (await tenant.customers["bakery"].ideas.SubmitIdea(submission("Bulk edit"))).idea
    for org in ("clinic", "shop", "bank", "lab"):
        await tenant.customers[org].ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=modest.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
            )
        )

    async def five_and_open() -> bool:
        got = await tenant.pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=modest.id))
        return got.idea.organization_count == 5 and got.idea.next_gate_holds

    await until(five_and_open, "the modest idea's gate opening")
    for target in ("DISCOVERY", "DESIGN"):
        await until(lambda: _holds(tenant.pm, modest.id), f"the gate into {target}")
        moved = await tenant.pm.gates.AdvanceStage(
            gateway_pb2.AdvanceStageRequest(idea_id=modest.id, target_stage=target)
        )
        assert moved.stage == target


async def _holds(pm: Caller, idea_id: str) -> bool:
    report = await pm.gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea_id))
    return report.report.holds


async def test_get_idea_shows_every_write_at_once_though_the_gateway_remembers_it(
    tenant: Tenant, running: platform.Platform
) -> None:
    pm = tenant.pm
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea

    async def recorded() -> bool:
        found = await pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))
        return bool(found.idea.stage)

    await until(recorded, "the stage of the new idea")
    # Read twice: from now on the gateway answers from what it remembers.
    for _ in range(2):
        seen = (await pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))).idea
        assert (seen.version, seen.organization_count) == (1, 1)

    # Its own write: the very next read shows it, under any spelling of the id.
    endorsed = await tenant.customers["clinic"].ideas.EndorseIdea(
        gateway_pb2.EndorseIdeaRequest(idea_id=idea.id, importance=domain_pb2.IMPORTANCE_CRITICAL)
    )
    after = (await pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id.upper()))).idea
    assert (after.version, after.organization_count) == (endorsed.idea.version, 2)

    # A write that never passed through this gateway reaches it with its event.
    async with grpc.aio.insecure_channel(running.address("ideas")) as internal:
        direct = await ideas_pb2_grpc.IdeasServiceStub(internal).EndorseIdea(
            ideas_pb2.EndorseIdeaRequest(
                tenant_id="acme-software",
                idea_id=idea.id,
                member=domain_pb2.MemberRef(organization_id="lab", member_id="lea"),
                importance=domain_pb2.IMPORTANCE_IMPORTANT,
            )
        )

    async def caught_up() -> bool:
        found = await pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))
        return found.idea.version == direct.idea.version

    await until(caught_up, "the other writer's endorsement")


async def test_customers_see_counts_but_only_opted_in_peers(tenant: Tenant) -> None:
    idea = (await tenant.customers["megacorp"].ideas.SubmitIdea(submission())).idea
    for org in ("bakery", "clinic", "bank"):
        await tenant.customers[org].ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
            )
        )
    seen = (
        await tenant.customers["bakery"].ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))
    ).idea
    assert seen.organization_count == 4
    # Never MegaCorp, not even as submitter.
    assert not seen.HasField("submitted_by")
    listed = await tenant.customers["bakery"].ideas.ListIdeas(gateway_pb2.ListIdeasRequest())
    assert all(not i.HasField("submitted_by") for i in listed.ideas if i.id == idea.id)
    # Its own organization and the two peers who opted in; the count is the whole picture.
    backing = await tenant.customers["bakery"].ideas.ListEndorsements(
        gateway_pb2.ListEndorsementsRequest(idea_id=idea.id)
    )
    assert {e.organization_id for e in backing.endorsements} == {"bakery", "clinic", "bank"}
    assert backing.organization_count == 4
    vendor_backing = await tenant.pm.ideas.ListEndorsements(
        gateway_pb2.ListEndorsementsRequest(idea_id=idea.id)
    )
    assert {e.organization_id for e in vendor_backing.endorsements} == {
        "megacorp",
        "bakery",
        "clinic",
        "bank",
    }

    async def reported() -> bool:
        return await customers_counted(tenant.customers["bakery"].gates, idea.id) == 4

    await until(reported, "a report")
    report = await tenant.customers["bakery"].gates.GetGateReport(
        gateway_pb2.GetGateReportRequest(idea_id=idea.id)
    )
    assert "MegaCorp" not in report.report.summary
    assert "megacorp" not in {w.organization_id for w in report.report.weights}
    vendor_view = await tenant.pm.gates.GetGateReport(
        gateway_pb2.GetGateReportRequest(idea_id=idea.id)
    )
    assert "megacorp" in {w.organization_id for w in vendor_view.report.weights}


async def test_customers_act_only_for_themselves(tenant: Tenant) -> None:
    error = await refused(
        tenant.customers["bakery"].ideas.SubmitIdea(
            gateway_pb2.SubmitIdeaRequest(
                title="x",
                problem="y",
                product_area="z",
                source_channel=domain_pb2.SOURCE_CHANNEL_API,
                importance=domain_pb2.IMPORTANCE_IMPORTANT,
                submitted_by=domain_pb2.MemberRef(organization_id="megacorp", member_id="boss"),
            )
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    request = submission()
    request.submitted_by.CopyFrom(domain_pb2.MemberRef(organization_id="shop", member_id="s1"))
    on_behalf = await tenant.integration.ideas.SubmitIdea(request)
    assert on_behalf.idea.submitted_by.organization_id == "shop"
    request.submitted_by.organization_id = "bank"
    error = await refused(tenant.integration.ideas.SubmitIdea(request))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    for forbidden in (
        tenant.customers["bakery"].gates.AdvanceStage(
            gateway_pb2.AdvanceStageRequest(idea_id=on_behalf.idea.id, target_stage="DISCOVERY")
        ),
        tenant.pm.policies.UpdateGatePolicy(gateway_pb2.UpdateGatePolicyRequest()),
        tenant.customers["bakery"].access.ListApiKeys(gateway_pb2.ListApiKeysRequest()),
    ):
        assert (await refused(forbidden)).code() == grpc.StatusCode.PERMISSION_DENIED


async def test_bad_input_and_bad_keys_get_clear_statuses(
    tenant: Tenant, running: platform.Platform
) -> None:
    error = await refused(
        tenant.pm.ideas.SubmitIdea(gateway_pb2.SubmitIdeaRequest(title="t" * 201))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"title", "problem", "product_area", "source_channel", "importance"} <= bad_field_names(
        error
    )
    error = await refused(tenant.pm.gates.DeclineIdea(gateway_pb2.DeclineIdeaRequest(idea_id="x")))
    assert bad_field_names(error) == {"idea_id", "reason"}
    error = await refused(
        tenant.admin.access.CreateApiKey(
            gateway_pb2.CreateApiKeyRequest(role=gateway_pb2.ROLE_CUSTOMER)
        )
    )
    assert bad_field_names(error) == {
        "principal_id",
        "display_name",
        "organization_id",
        "member_id",
    }
    async with grpc.aio.insecure_channel(tenant.address) as anonymous:
        error = await refused(
            gateway_pb2_grpc.IdeasServiceStub(anonymous).GetIdea(gateway_pb2.GetIdeaRequest())
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    async with channel(tenant.address, "qk_nothing_here") as forged:
        error = await refused(
            gateway_pb2_grpc.IdeasServiceStub(forged).GetIdea(gateway_pb2.GetIdeaRequest())
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    huge = submission()
    huge.problem = "p" * 2_000_000
    error = await refused(tenant.pm.ideas.SubmitIdea(huge))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_a_revoked_key_stops_working(tenant: Tenant) -> None:
    secret = await key(tenant.admin, gateway_pb2.ROLE_PRODUCT_MANAGER, "temp")
    keys = await tenant.admin.access.ListApiKeys(gateway_pb2.ListApiKeysRequest())
    temp = next(k for k in keys.keys if k.principal_id == "temp")
    async with channel(tenant.address, secret) as temporary:
        who = await gateway_pb2_grpc.AccessServiceStub(temporary).WhoAmI(
            gateway_pb2.WhoAmIRequest()
        )
        assert who.tenant_id == "acme-software"
        await tenant.admin.access.RevokeApiKey(gateway_pb2.RevokeApiKeyRequest(key_id=temp.key_id))

        async def rejected() -> bool:
            try:
                await gateway_pb2_grpc.AccessServiceStub(temporary).WhoAmI(
                    gateway_pb2.WhoAmIRequest()
                )
            except grpc.aio.AioRpcError as error:
                return error.code() == grpc.StatusCode.UNAUTHENTICATED
            return False

        await until(rejected, "the revocation (key cache expiry)")


async def test_another_tenants_key_sees_nothing_and_changes_nothing(
    tenant: Tenant, running: platform.Platform
) -> None:
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea
    other_admin = bootstrap_tenant(running.env(), "rival-vendor")
    async with channel(tenant.address, other_admin) as rival_channel:
        rival = Caller(rival_channel)
        calls: list[Awaitable[Any]] = [
            rival.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id)),
            rival.ideas.EndorseIdea(
                gateway_pb2.EndorseIdeaRequest(
                    idea_id=idea.id,
                    member=domain_pb2.MemberRef(organization_id="bakery", member_id="x"),
                    importance=domain_pb2.IMPORTANCE_CRITICAL,
                )
            ),
            rival.ideas.WithdrawEndorsement(
                gateway_pb2.WithdrawEndorsementRequest(
                    idea_id=idea.id,
                    member=domain_pb2.MemberRef(
                        organization_id="bakery", member_id="bakery-member"
                    ),
                )
            ),
            rival.gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea.id)),
            rival.gates.AdvanceStage(
                gateway_pb2.AdvanceStageRequest(idea_id=idea.id, target_stage="DISCOVERY")
            ),
            rival.gates.DeclineIdea(gateway_pb2.DeclineIdeaRequest(idea_id=idea.id, reason="no")),
            rival.directory.GetOrganization(
                gateway_pb2.GetOrganizationRequest(organization_id="bakery")
            ),
        ]
        for call in calls:
            assert (await refused(call)).code() == grpc.StatusCode.NOT_FOUND
        listed = await rival.ideas.ListIdeas(gateway_pb2.ListIdeasRequest())
        assert list(listed.ideas) == []
        organizations = await rival.directory.ListOrganizations(
            gateway_pb2.ListOrganizationsRequest()
        )
        assert list(organizations.organizations) == []
        keys = await rival.access.ListApiKeys(gateway_pb2.ListApiKeysRequest())
        assert {k.principal_id for k in keys.keys} == {"admin"}
    mine = (await tenant.pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))).idea
    assert mine.organization_count == 1
    assert mine.status == domain_pb2.IDEA_STATUS_OPEN


async def test_watch_events_resumes_without_gap_or_duplicate(tenant: Tenant) -> None:
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea
    first: list[gateway_pb2.WatchEventsResponse] = []
    stream = tenant.pm.events.WatchEvents(
        gateway_pb2.WatchEventsRequest(cursor="0", idea_id=idea.id)
    )
    async for answer in stream:
        first.append(answer)
        if len(first) == 2:  # IdeaSubmitted, StageAdvanced (into IDEATION)
            break
    stream.cancel()
    for org in ("clinic", "shop", "bank"):
        await tenant.customers[org].ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
            )
        )
    resumed: list[gateway_pb2.WatchEventsResponse] = []
    stream = tenant.pm.events.WatchEvents(
        gateway_pb2.WatchEventsRequest(cursor=first[-1].cursor, idea_id=idea.id)
    )
    async for answer in stream:
        resumed.append(answer)
        kinds = [a.event.WhichOneof("payload") for a in resumed]
        if kinds.count("idea_endorsed") == 3 and "gate_opened" in kinds:
            break
    stream.cancel()
    ids = [a.event.envelope.event_id for a in first + resumed]
    assert len(ids) == len(set(ids))
    cursors = [int(a.cursor) for a in first + resumed]
    assert cursors == sorted(cursors)
    assert [a.event.WhichOneof("payload") for a in first] == ["idea_submitted", "stage_advanced"]


@pytest.mark.platform_env(GATEWAY_RATE_LIMIT_PER_SECOND="1", GATEWAY_RATE_LIMIT_BURST="5")
async def test_a_flood_from_one_key_is_throttled(
    running: platform.Platform, gateway: grpc.aio.Channel
) -> None:
    admin = Caller(gateway)
    secret = await key(admin, gateway_pb2.ROLE_PRODUCT_MANAGER, "flooder")
    codes = []
    throttled: grpc.aio.AioRpcError | None = None
    async with channel(running.address("gateway"), secret) as flooder:
        for _ in range(12):
            try:
                await Caller(flooder).policies.GetPipeline(gateway_pb2.GetPipelineRequest())
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as error:
                codes.append(error.code())
                throttled = error
    assert codes[0] == grpc.StatusCode.OK
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    # It says when to try again, as google.rpc.RetryInfo.
    assert throttled is not None
    retry = error_details_pb2.RetryInfo()
    assert status_of(throttled).details[0].Unpack(retry)
    assert retry.retry_delay.ToNanoseconds() > 0
    # Another key has its own bucket.
    pipeline = await admin.policies.GetPipeline(gateway_pb2.GetPipelineRequest())
    assert list(pipeline.pipeline.stages)[:2] == ["IDEATION", "DISCOVERY"]
