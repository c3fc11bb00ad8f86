"""The gateway's pure rules: keys, roles, acting for customers, visibility, rate limits."""

from __future__ import annotations

import pytest

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import PermissionDenied, Unauthenticated
from quorum_gateway import principals
from quorum_gateway.principals import PERMISSIONS, Principal, Role
from quorum_gateway.ratelimit import RateLimiter
from quorum_gateway.visibility import HIDDEN, visible_idea, visible_report


def principal(role: Role, **fields: object) -> Principal:
    return Principal("acme", "k1", "p1", "Pat", role, **fields)  # type: ignore[arg-type]


CUSTOMER = principal(Role.CUSTOMER, organization_id="bakery", member_id="ann")
INTEGRATION = principal(Role.INTEGRATION, organization_ids=frozenset({"bakery", "clinic"}))


def test_every_public_rpc_has_a_permission_entry() -> None:
    services = gateway_pb2.DESCRIPTOR.services_by_name.values()
    rpcs = {f"{s.name}/{m.name}" for s in services for m in s.methods}
    assert rpcs == set(PERMISSIONS)


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        (Role.CUSTOMER, "/quorum.gateway.v1.GatesService/AdvanceStage", False),
        (Role.PRODUCT_MANAGER, "/quorum.gateway.v1.GatesService/AdvanceStage", True),
        (Role.PRODUCT_MANAGER, "/quorum.gateway.v1.PolicyService/UpdateGatePolicy", False),
        (Role.VENDOR_ADMIN, "/quorum.gateway.v1.PolicyService/UpdateGatePolicy", True),
        (Role.INTEGRATION, "/quorum.gateway.v1.IdeasService/EndorseIdea", True),
        (Role.INTEGRATION, "/quorum.gateway.v1.EventsService/WatchEvents", False),
        (Role.CUSTOMER, "/quorum.gateway.v1.AccessService/CreateApiKey", False),
        (Role.CUSTOMER, "/quorum.gateway.v1.Nowhere/Nothing", False),
    ],
)
def test_roles_decide_which_rpcs_a_key_may_call(role: Role, method: str, allowed: bool) -> None:
    caller = principal(role)
    if allowed:
        principals.authorize(caller, method)
    else:
        with pytest.raises(PermissionDenied):
            principals.authorize(caller, method)


def test_a_customer_acts_only_as_itself() -> None:
    filled = principals.acting_member(CUSTOMER, domain_pb2.MemberRef())
    assert (filled.organization_id, filled.member_id) == ("bakery", "ann")
    with pytest.raises(PermissionDenied):
        principals.acting_member(
            CUSTOMER, domain_pb2.MemberRef(organization_id="megacorp", member_id="ann")
        )
    assert principals.acting_organization(CUSTOMER, "") == "bakery"
    with pytest.raises(PermissionDenied):
        principals.acting_organization(CUSTOMER, "megacorp")


def test_an_integration_acts_for_members_of_its_organizations_only() -> None:
    member = domain_pb2.MemberRef(organization_id="clinic", member_id="cid")
    assert principals.acting_member(INTEGRATION, member) == member
    with pytest.raises(PermissionDenied):
        principals.acting_member(
            INTEGRATION, domain_pb2.MemberRef(organization_id="bank", member_id="x")
        )


def test_keys_are_stored_hashed_and_checked_in_constant_time() -> None:
    secret = principals.new_secret("abc123")
    assert principals.key_id_of(secret) == "abc123"
    stored = principals.hash_secret(secret)
    assert secret not in stored
    assert principals.matches(secret, stored)
    assert not principals.matches(secret + "x", stored)
    for bad in ("", "qk_", "qk__x", "sk_abc_def", "nonsense"):
        with pytest.raises(Unauthenticated):
            principals.key_id_of(bad)


def test_the_bearer_header_is_required_and_well_formed() -> None:
    assert principals.bearer((("authorization", "Bearer qk_a_b"),)) == "qk_a_b"
    with pytest.raises(Unauthenticated, match="missing"):
        principals.bearer(())
    with pytest.raises(Unauthenticated, match="Bearer"):
        principals.bearer((("authorization", "Basic xyz"),))


def test_rate_limit_allows_a_burst_then_the_sustained_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.allow("k")
    assert not limiter.allow("k")
    assert limiter.allow("other key")


def idea_with(*organizations: str) -> gateway_pb2.Idea:
    return gateway_pb2.Idea(
        id="i",
        submitted_by=domain_pb2.MemberRef(organization_id=organizations[0], member_id="m"),
        organization_count=len(organizations),
    )


def test_customers_see_counts_but_only_visible_identities() -> None:
    shown = visible_idea(idea_with("megacorp", "bakery", "peer"), {"bakery", "peer"})
    assert shown.organization_count == 3
    assert not shown.HasField("submitted_by")
    own = visible_idea(idea_with("bakery", "peer"), {"bakery"})
    assert own.submitted_by.organization_id == "bakery"


def test_a_gate_report_hides_the_dominant_customers_name() -> None:
    report = domain_pb2.GateReport(
        stage="DISCOVERY",
        summary="needs 2 more customers; MegaCorp holds 90% of the weight, over the 50% cap",
        summary_phrases=[
            domain_pb2.Phrase(text="needs 2 more customers; "),
            domain_pb2.Phrase(text="MegaCorp", organization_id="megacorp"),
            domain_pb2.Phrase(text=" holds 90% of the weight, over the 50% cap"),
        ],
        criteria=[
            domain_pb2.CriterionResult(
                name="max_share",
                subject="megacorp",
                detail="MegaCorp holds 90% of the weight",
                detail_phrases=[
                    domain_pb2.Phrase(text="MegaCorp", organization_id="megacorp"),
                    domain_pb2.Phrase(text=" holds 90% of the weight"),
                ],
            )
        ],
        weights=[
            domain_pb2.OrganizationWeight(
                organization_id="megacorp", customer_id="megacorp", organization_name="MegaCorp"
            ),
            domain_pb2.OrganizationWeight(
                organization_id="bakery", customer_id="bakery", organization_name="Bakery"
            ),
        ],
    )
    shown = visible_report(report, {"bakery"})
    assert "MegaCorp" not in shown.summary
    assert HIDDEN in shown.summary
    assert [w.organization_id for w in shown.weights] == ["bakery"]
    assert shown.criteria[0].subject == ""
    assert "MegaCorp" not in shown.criteria[0].detail


def test_a_council_shows_customers_only_the_members_they_may_know_of() -> None:
    from quorum_gateway.visibility import visible_council

    council = domain_pb2.Council(council_id="cab", member_organization_ids=["a", "b", "c"])
    shown = visible_council(council, {"b", "c", "z"})
    assert list(shown.member_organization_ids) == ["b", "c"]
    assert list(council.member_organization_ids) == ["a", "b", "c"]


def test_customers_and_integrations_answer_for_their_own_subscribers() -> None:
    assert principals.subscriber_scope(principal(Role.PRODUCT_MANAGER)) is None
    customer = principals.subscriber_scope(CUSTOMER)
    assert customer is not None
    assert [s.WhichOneof("who") for s in customer.subscribers] == ["member", "organization_id"]
    assert customer.subscribers[0].member.member_id == "ann"
    integration = principals.subscriber_scope(INTEGRATION)
    assert integration is not None
    assert list(integration.organization_ids) == ["bakery", "clinic"]


def test_the_ledger_is_waited_for_only_where_it_learns_the_ideas_version() -> None:
    from quorum.ideas.v1 import ideas_pb2
    from quorum_gateway.consistency import wanted_versions

    ideas = [
        ideas_pb2.Idea(id="open", version=3, status=domain_pb2.IDEA_STATUS_OPEN),
        ideas_pb2.Idea(id="merged", version=7, status=domain_pb2.IDEA_STATUS_MERGED),
        ideas_pb2.Idea(id="declined", version=2, status=domain_pb2.IDEA_STATUS_DECLINED),
    ]
    assert wanted_versions(ideas) == {"open": 3, "declined": 2}


def test_the_readme_permission_table_is_the_one_the_gateway_enforces() -> None:
    from support.permissions import documented_permissions

    documented = documented_permissions()
    enforced = {rpc: frozenset(r.name for r in roles) for rpc, roles in PERMISSIONS.items()}
    assert documented == enforced
