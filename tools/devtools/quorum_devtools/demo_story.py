"""The demo's scenes, in the order `demo.tell` plays them.

Each scene acts through the cast's clients, shows what a newcomer should see, and
raises DemoError when Quorum answered otherwise than the SPEC says.
"""

from __future__ import annotations

from contextlib import ExitStack

import grpc
from rich import box
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import Client, QuorumError, render
from quorum_devtools.demo_cast import (
    COUNCIL,
    MEGACORP,
    MEGACORP_CTO,
    MODEST_IMPORTANCE,
    SMALL,
    Cast,
    DemoError,
    Narrator,
    wait_for,
)


def advance_when_open(pm: Client, idea_id: str, target: str) -> gateway_pb2.AdvanceStageResponse:
    """Wait for the gate into `target` to hold, then advance with optimistic concurrency."""
    for attempt in range(3):
        idea = wait_for(
            pm,
            idea_id,
            lambda i: i.next_stage == target and i.next_gate_holds,
            f"the gate into {target} to hold",
        )
        try:
            return pm.advance_stage(idea_id, target, expected_version=idea.stage_version)
        except QuorumError as error:
            # A late endorsement re-judged the idea between the read and the advance:
            # read again and retry, as any PDP tool should.
            if error.code is grpc.StatusCode.ABORTED and attempt < 2:
                continue
            raise
    raise AssertionError("unreachable")


def set_up_directory(story: Narrator, admin: Client) -> None:
    story.step("The directory: one huge customer, five small ones, one council")
    organizations = [admin.upsert_organization(c.organization()) for c in (MEGACORP, *SMALL)]
    story.show(render.organizations_table(organizations))
    ratio = MEGACORP.arr / max(c.arr for c in SMALL)
    story.say(
        f"MegaCorp's ARR is {ratio:.0f} times the next customer's; the five small ones "
        f"span {len({c.segment for c in SMALL})} industries."
    )
    council = admin.upsert_council(COUNCIL)
    story.say(
        f"Council {council.name!r} with {len(council.member_organization_ids)} members: "
        "it becomes a required approver at the BUILD gate, later in the pipeline."
    )


def create_keys(story: Narrator, admin: Client, stack: ExitStack) -> Cast:
    story.step("API keys: a product manager's PDP tool, and one key per customer member")
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Who", "Role", "Acts for", "Key id"):
        table.add_column(column)
    created = admin.create_api_key(
        principal_id="pdp-tool",
        display_name="Priya (product manager, via the PDP tool)",
        role=gateway_pb2.ROLE_PRODUCT_MANAGER,
    )
    table.add_row(created.key.display_name, "product-manager", "-", created.key.key_id)
    pm = stack.enter_context(admin.with_key(created.secret))
    customers: dict[str, Client] = {}
    for person in (MEGACORP, MEGACORP_CTO, *SMALL):
        created = admin.create_api_key(
            principal_id=f"{person.member_id}@{person.organization_id}",
            display_name=f"{person.member_name}, {person.name}",
            role=gateway_pb2.ROLE_CUSTOMER,
            organization_id=person.organization_id,
            member_id=person.member_id,
        )
        table.add_row(
            Text(created.key.display_name),
            "customer",
            render.acts_for(created.key),
            created.key.key_id,
        )
        customers[person.member_id] = stack.enter_context(admin.with_key(created.secret))
    story.show(table)
    story.say("Each secret was shown once, at creation; Quorum stores only its hash.")
    return Cast(admin, pm, customers)


def megacorp_is_refused(story: Narrator, cast: Cast) -> str:
    story.step("MegaCorp submits an idea and endorses it as CRITICAL")
    ceo = cast.customers[MEGACORP.member_id]
    submitted = ceo.submit_idea(
        "Industry-wide regulatory reporting hub",
        "Our regulators want one consolidated filing; we assemble it by hand every quarter. "
        "The other twenty banks surely have the same problem.",
        product_area="reporting",
        tags=["compliance", "regulatory"],
        source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
        submitted_by=MEGACORP.member(),
        importance=domain_pb2.IMPORTANCE_CRITICAL,
        impact="We would renew for three years.",
    )
    idea_id = submitted.idea.id
    story.say(f"{MEGACORP.member_name} submitted idea {idea_id} (CRITICAL).")
    cto = cast.customers[MEGACORP_CTO.member_id]
    cto.endorse_idea(
        idea_id, member=MEGACORP_CTO.member(), importance=domain_pb2.IMPORTANCE_CRITICAL
    )
    story.say(f"{MEGACORP_CTO.member_name} endorses it too, CRITICAL.")
    idea = wait_for(
        cast.pm, idea_id, lambda i: i.stage == "IDEATION", "MegaCorp's idea to enter IDEATION"
    )
    story.say(
        f"It is in {idea.stage}, endorsed by {idea.organization_count} organization: "
        "two members of one company count once."
    )

    story.step("The PDP tool asks to move MegaCorp's idea to DISCOVERY")
    try:
        moved = cast.pm.advance_stage(idea_id, "DISCOVERY")
    except QuorumError as error:
        if error.code is not grpc.StatusCode.FAILED_PRECONDITION:
            raise
        report = error.gate_report or cast.pm.get_gate_report(idea_id).report
        story.say(f"Refused ({error.code.name}).", style="bold red")
        story.say(f"The gate says: {report.summary}", style="bold")
        story.show(render.criteria_table(report, only_unmet=True))
        story.show(render.weights_table(report))
        story.say(
            "Under ARR_LINEAR weighting MegaCorp holds all the weight, and no single "
            "customer may carry an idea, however big it is."
        )
        return idea_id
    raise DemoError(
        f"MegaCorp's idea advanced to {moved.stage}: the gate let one customer carry it "
        "(does this tenant still have the default DISCOVERY policy? `quorum policies show`)"
    )


def modest_idea_passes(story: Narrator, cast: Cast) -> str:
    story.step("A modest idea: one small customer submits, four others endorse")
    first, *others = SMALL
    submitted = cast.customers[first.member_id].submit_idea(
        "Export gate reports to CSV",
        "Our portfolio board reviews every gate decision in a spreadsheet each week.",
        product_area="reporting",
        tags=["export", "csv"],
        source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
        submitted_by=first.member(),
        importance=MODEST_IMPORTANCE[first.organization_id],
    )
    idea_id = submitted.idea.id
    story.say(
        f"{first.member_name} ({first.name}, {first.segment}) submitted idea {idea_id} "
        f"({render.importance(MODEST_IMPORTANCE[first.organization_id])})."
    )
    for customer in others:
        importance = MODEST_IMPORTANCE[customer.organization_id]
        cast.customers[customer.member_id].endorse_idea(
            idea_id, member=customer.member(), importance=importance
        )
        story.say(
            f"{customer.member_name} ({customer.name}, {customer.segment}) endorses: "
            f"{render.importance(importance)}."
        )
    idea = wait_for(
        cast.pm,
        idea_id,
        lambda i: i.stage == "IDEATION" and i.organization_count == len(SMALL),
        "the five endorsements to be counted",
    )
    story.say(f"The idea is in {idea.stage} with {idea.organization_count} organizations.")

    story.step("The PDP tool moves it through DISCOVERY and DESIGN")
    for target in ("DISCOVERY", "DESIGN"):
        moved = advance_when_open(cast.pm, idea_id, target)
        story.say(f"{moved.from_stage} → {moved.stage}: allowed.", style="bold green")
        story.show(render.criteria_table(moved.report))
    story.show(render.weights_table(moved.report))
    return idea_id


def who_was_told(story: Narrator, cast: Cast, blocked_id: str, modest_id: str) -> None:
    story.step("Who is told")
    story.say(
        "By the product's rules a stage advance is told to every endorsing member and the "
        "submitter, through their subscriptions; `quorum notifications deliveries --idea "
        "ID` shows the delivery log of what was sent and how each attempt went:",
        style="italic",
    )
    table = Table(box=box.SIMPLE_HEAD, title="Recipients of each advance", title_justify="left")
    for column in ("Member", "Organization", "Why", "Told of the moves into"):
        table.add_column(column)
    first = SMALL[0]
    for customer in SMALL:
        table.add_row(
            customer.member_name,
            customer.name,
            "submitter and endorser" if customer is first else "endorser",
            "DISCOVERY, DESIGN",
        )
    story.show(table)
    story.say(
        "Each time the modest idea's gate opened, the tenant's product team was told, so a "
        "product manager knows when an advance is possible."
    )
    story.say(
        "MegaCorp's members are told nothing: a refused advance changes nothing for "
        "them; the product team sees the refusal in the event stream."
    )
    story.say("The events the notifications service acts on, from the gateway's stream:")
    shown = 0
    for idea_id, kinds, enough in (
        (blocked_id, ["StageAdvanceRejected"], 1),
        (modest_id, ["StageAdvanced"], 3),  # entry into IDEATION, DISCOVERY, DESIGN
    ):
        shown += _print_events(story, cast.pm, idea_id, kinds, enough)
    if not shown:
        story.say("(the event stream showed nothing within a few seconds)", style="dim")


def _print_events(story: Narrator, pm: Client, idea_id: str, kinds: list[str], enough: int) -> int:
    seen = 0
    try:
        with pm.watch_events(idea_id=idea_id, kinds=kinds, cursor="0", timeout=5.0) as stream:
            for answer in stream:
                story.say(render.event_line(answer), style="dim")
                seen += 1
                if seen >= enough:
                    break
    except QuorumError as error:
        # The stream is a garnish on the story, not part of its verdict.
        if error.code is not grpc.StatusCode.DEADLINE_EXCEEDED:
            story.say(f"(event stream unavailable: {error.message})", style="dim")
    return seen


def the_lesson(story: Narrator, cast: Cast, blocked_id: str, modest_id: str) -> None:
    story.step("Where the two ideas stand")
    blocked = cast.pm.get_idea(blocked_id)
    modest = cast.pm.get_idea(modest_id)
    story.show(render.ideas_table([blocked, modest]))
    if blocked.stage != "IDEATION":
        raise DemoError(f"MegaCorp's idea should still be in IDEATION, not {blocked.stage}")
    if modest.stage != "DESIGN":
        raise DemoError(f"the modest idea should be in DESIGN, not {modest.stage}")
    try:
        card = cast.pm.get_tenant_scorecard()
    except QuorumError as error:
        story.say(f"(no tenant scorecard: {error.message})", style="dim")
    else:
        story.say(
            f"The tenant's scorecard: {card.single_customer_ideas_stopped} single-customer "
            f"idea(s) stopped by the gates, {card.overrides} override(s)."
        )
    story.say(
        "One customer, however big, could not carry its idea past the first gate; five "
        "small customers from three industries carried theirs through two. That is the "
        "$100M lesson, enforced.",
        style="bold",
    )


def the_council_votes(story: Narrator, cast: Cast, modest_id: str) -> None:
    story.step("The Customer Advisory Board votes on the modest idea's BUILD gate")
    votes = [("ana", True, "Our stores need it"), ("ben", True, "Clinics too"),
             ("chen", True, "Yes"), ("dora", False, "Not this year")]  # fmt: skip
    for member_id, approve, comment in votes:
        tally = cast.customers[member_id].cast_council_vote(
            modest_id, COUNCIL.council_id, approve=approve, comment=comment
        )
        story.say(
            f"{member_id} {'approves' if approve else 'rejects'} ({comment!r}): "
            f"{tally.approvals} for, {tally.rejections} against the gate into {tally.stage}"
        )
    report = cast.pm.get_gate_report(modest_id).report
    council = next(c for c in report.criteria if c.name == "council_approval")
    if not council.met:
        raise DemoError(f"the council's approval should hold: {council.detail}")
    story.say(
        f"Council criterion: {council.detail} — met. The BUILD gate as a whole: {report.summary}"
    )


def an_override_is_never_silent(story: Narrator, cast: Cast, blocked_id: str) -> None:
    story.step("An admin overrides MegaCorp's gate — on the record")
    justification = "The regulator's deadline of March forces this before more evidence."
    done = cast.admin.override_stage(blocked_id, "DISCOVERY", justification)
    unmet = ", ".join(c.name for c in done.report.criteria if not c.met)
    story.say(
        f"Moved {done.from_stage} → {done.stage} although {unmet} did not hold. "
        f"Justification: {justification!r}"
    )
    idea = cast.pm.get_idea(blocked_id)
    if not idea.overridden:
        raise DemoError("the overridden idea should carry its mark")
    card = cast.pm.get_tenant_scorecard()
    story.say(
        f"The idea carries the 'overridden' mark for good; the tenant's scorecard counts "
        f"{card.overrides} override(s); the council's members, the admins and MegaCorp's "
        "members are notified (StageOverridden)."
    )
