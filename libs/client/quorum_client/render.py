"""How Quorum's messages look to a person: rich tables and one-line summaries.

Shared by the CLI and the newcomer demo, so both show a gate report the same way.
Every piece of user-supplied text goes through `Text` (never markup), so a title
such as "[urgent] export" prints as written instead of being read as a style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.client import FieldViolation, PreconditionViolation

YES = "yes"
NO = "no"


def label(descriptor: EnumDescriptor, value: int) -> str:
    """IMPORTANCE_NICE_TO_HAVE → "nice-to-have"; the UNSPECIFIED value → "-"."""
    found = descriptor.values_by_number.get(value)
    if found is None:
        return str(value)
    unspecified = descriptor.values_by_number.get(0)
    prefix = unspecified.name.removesuffix("UNSPECIFIED") if unspecified is not None else ""
    if value == 0:
        return "-"
    return found.name.removeprefix(prefix).lower().replace("_", "-")


def importance(value: int) -> str:
    return label(domain_pb2.Importance.DESCRIPTOR, value)


def status(value: int) -> str:
    return label(domain_pb2.IdeaStatus.DESCRIPTOR, value)


def role(value: int) -> str:
    return label(gateway_pb2.Role.DESCRIPTOR, value)


def relationship(value: int) -> str:
    return label(domain_pb2.Relationship.DESCRIPTOR, value)


def weighting(value: int) -> str:
    return label(domain_pb2.Weighting.DESCRIPTOR, value)


def commitments(values: Iterable[int]) -> str:
    return ", ".join(label(domain_pb2.Commitment.DESCRIPTOR, v) for v in values) or "-"


def timestamp(value: Timestamp) -> str:
    if value.seconds == 0 and value.nanos == 0:
        return "-"
    return value.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3g}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def member(ref: domain_pb2.MemberRef) -> str:
    if not ref.organization_id and not ref.member_id:
        return "-"
    return f"{ref.member_id or '?'} @ {ref.organization_id or '?'}"


def arr(value: int) -> str:
    # ARR travels in minor units (cents); thousands separators make 10x visible.
    return f"{value:,}"


# An idea id (a UUID) in full: columns holding one are at least this wide.
ID_WIDTH = 36


def day(value: Timestamp) -> str:
    """The date alone, for tables where the second does not matter."""
    return timestamp(value)[:10]


def _table(title: str | None = None) -> Table:
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
    )


def _fields(rows: Sequence[tuple[str, str | Text]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, value if isinstance(value, Text) else Text(value))
    return grid


# --- ideas -------------------------------------------------------------------------


def next_gate(idea: gateway_pb2.Idea) -> str:
    if not idea.next_stage:
        return "-"
    return f"{idea.next_stage}: {'holds' if idea.next_gate_holds else 'does not hold'}"


def idea_details(
    idea: gateway_pb2.Idea, backing: gateway_pb2.ListEndorsementsResponse | None = None
) -> RenderableType:
    """The idea's fields; with `backing`, a first page of the organizations behind it."""
    rows: list[tuple[str, str | Text]] = [
        ("Idea", idea.id),
        ("Title", idea.title),
        ("Stage", f"{idea.stage or '(not yet recorded)'} ({status(idea.status)})"),
        ("Next gate", next_gate(idea)),
        ("Organizations", str(idea.organization_count)),
        ("Product area", idea.product_area or "-"),
        ("Tags", ", ".join(idea.tags) or "-"),
        ("Channel", label(domain_pb2.SourceChannel.DESCRIPTOR, idea.source_channel)),
        ("Submitted by", member(idea.submitted_by)),
        ("Created", timestamp(idea.created_at)),
        ("Versions", f"idea {idea.version}, stage {idea.stage_version}"),
    ]
    if idea.merged_into:
        rows.append(("Merged into", idea.merged_into))
    if idea.co_signed_by:
        rows.append(("Co-signed by", ", ".join(idea.co_signed_by)))
    if idea.overridden:
        rows.append(("Overridden", "yes: an admin moved it past a gate that did not hold"))
    rows.append(("Problem", idea.problem))
    parts: list[RenderableType] = [_fields(rows)]
    if backing is not None and backing.endorsements:
        parts.append(endorsements_table(backing))
    return Group(*parts)


def endorsements_table(backing: gateway_pb2.ListEndorsementsResponse) -> Table:
    """One page of endorsements; the title says how many more there are or are hidden."""
    others = backing.organization_count - len(backing.endorsements)
    title = "Endorsements"
    if others > 0:
        title += f" (and {others} more not shown)"
    table = _table(title)
    for column in ("Organization", "Importance", "Commitments", "Members", "Endorsed at"):
        table.add_column(column)
    for e in backing.endorsements:
        table.add_row(
            Text(e.organization_id),
            importance(e.importance),
            commitments(e.commitments),
            str(e.member_count),
            timestamp(e.endorsed_at),
        )
    return table


def ideas_table(ideas: Sequence[gateway_pb2.Idea]) -> Table:
    # The id never wraps (it is copied into the next command); the title goes under it,
    # so the table stays readable at 80 columns, in a terminal or piped.
    table = _table()
    table.add_column("Idea (title)", width=ID_WIDTH, overflow="fold")
    table.add_column("Stage", overflow="fold")
    table.add_column("Orgs", justify="right", no_wrap=True)
    table.add_column("Next gate", overflow="fold")
    for idea in ideas:
        table.add_row(
            Text(idea.id) + Text("\n") + Text(idea.title, style="bold"),
            f"{idea.stage or '-'}\n{status(idea.status)}",
            str(idea.organization_count),
            next_gate(idea),
        )
    return table


def similar_table(similar: Sequence[gateway_pb2.SimilarIdea], title: str | None = None) -> Table:
    table = _table(title)
    table.add_column("Score", justify="right")
    table.add_column("Idea")
    table.add_column("Title")
    for s in similar:
        table.add_row(f"{s.score:.2f}", s.idea_id, Text(s.title))
    return table


# --- gates -------------------------------------------------------------------------


def criterion_value(name: str, value: float) -> str:
    return percent(value) if name == "max_share" else number(value)


def criterion_name(c: domain_pb2.CriterionResult) -> str:
    return f"{c.name} ({c.subject})" if c.subject else c.name


def gate_headline(report: domain_pb2.GateReport) -> str:
    verdict = "holds" if report.holds else "does not hold"
    return f"Gate into {report.stage} (policy v{report.policy_version}) {verdict}: {report.summary}"


def criteria_table(report: domain_pb2.GateReport, *, only_unmet: bool = False) -> Table:
    table = _table("Unmet criteria" if only_unmet else "Criteria")
    table.add_column("Criterion")
    table.add_column("Required", justify="right")
    table.add_column("Actual", justify="right")
    table.add_column("Met")
    table.add_column("Detail")
    for c in report.criteria:
        if only_unmet and c.met:
            continue
        table.add_row(
            criterion_name(c),
            ("≤ " if c.name == "max_share" else "≥ ") + criterion_value(c.name, c.required),
            criterion_value(c.name, c.actual),
            Text(YES, style="green") if c.met else Text(NO, style="red"),
            Text(c.detail or ""),
        )
    return table


def weights_table(report: domain_pb2.GateReport) -> Table:
    # Relationship and eligibility columns appear only when they say something: in
    # the common case (all active, all counted) the table stays narrow enough for a
    # plain 80-column terminal.
    weights = list(report.weights)
    show_relationship = any(w.relationship != domain_pb2.RELATIONSHIP_ACTIVE for w in weights)
    show_counts = any(not w.eligible for w in weights)
    table = _table("How each organization weighs")
    table.add_column("Organization")
    table.add_column("Segment")
    if show_relationship:
        table.add_column("Relationship")
    table.add_column("ARR", justify="right")
    table.add_column("Importance")
    table.add_column("Weight", justify="right")
    table.add_column("Share", justify="right")
    if show_counts:
        table.add_column("Counts")
    for w in weights:
        name = w.organization_name or w.organization_id
        if w.sponsor:
            name += " (submitter)"
        row: list[str | Text] = [Text(name), Text(w.segment or "-")]
        if show_relationship:
            row.append(relationship(w.relationship))
        row += [arr(w.arr), importance(w.importance), f"{w.weight:,.1f}", percent(w.share)]
        if show_counts:
            row.append(YES if w.eligible else f"no: {w.excluded_reason or 'excluded'}")
        table.add_row(*row)
    return table


def gate_report(report: domain_pb2.GateReport, *, weights: bool = True) -> RenderableType:
    parts: list[RenderableType] = [Text(gate_headline(report)), criteria_table(report)]
    if weights and report.weights:
        parts.append(weights_table(report))
    return Group(*parts)


def preconditions_table(violations: Sequence[PreconditionViolation]) -> Table:
    table = _table("Unmet conditions")
    table.add_column("Condition")
    table.add_column("Why")
    for v in violations:
        table.add_row(Text(v.subject or v.type), Text(v.description))
    return table


def field_list(violations: Sequence[FieldViolation]) -> Text:
    return Text("\n".join(f"  • {v.field}: {v.description}" for v in violations))


# --- directory, policies, keys -----------------------------------------------------


def organizations_table(organizations: Sequence[domain_pb2.Organization]) -> Table:
    table = _table()
    for column in ("Organization", "Name", "Segment", "ARR", "Relationship", "Flags"):
        table.add_column(column, justify="right" if column == "ARR" else "left")
    for o in organizations:
        table.add_row(
            Text(o.organization_id),
            Text(o.name),
            Text(o.segment),
            arr(o.arr),
            relationship(o.relationship),
            Text(organization_flags(o)),
        )
    return table


def organization_flags(o: domain_pb2.Organization) -> str:
    flags = []
    if o.poor_fit:
        flags.append("poor fit")
    if o.parent_id:
        flags.append(f"parent {o.parent_id}")
    if o.peer_visible:
        flags.append("peer-visible")
    return ", ".join(flags) or "-"


def organization_details(o: domain_pb2.Organization) -> RenderableType:
    return _fields(
        [
            ("Organization", o.organization_id),
            ("Name", o.name),
            ("Segment", o.segment),
            ("ARR (minor units)", arr(o.arr)),
            ("Relationship", relationship(o.relationship)),
            ("Poor fit", YES if o.poor_fit else NO),
            ("Parent", o.parent_id or "-"),
            ("Peer-visible", YES if o.peer_visible else NO),
            ("Contact", o.contact or "-"),
            ("Updated", timestamp(o.updated_at)),
        ]
    )


def councils_table(councils: Sequence[domain_pb2.Council]) -> Table:
    table = _table()
    for column in ("Council", "Name", "Members", "Quorum", "Charter"):
        table.add_column(column, overflow="fold")
    for c in councils:
        table.add_row(
            Text(c.council_id),
            Text(c.name),
            Text(", ".join(c.member_organization_ids) or "-"),
            percent(c.quorum) if c.quorum else "policy's",
            Text(c.charter or "-"),
        )
    return table


def council_rule(policy: domain_pb2.GatePolicy) -> str:
    if not policy.HasField("council_approval"):
        return "-"
    rule = policy.council_approval
    who = rule.council_id or "every council"
    return f"approval of {who} ({percent(rule.quorum or 0.5)})"


def also_requires(policy: domain_pb2.GatePolicy) -> str:
    """Commitments and council approval: the criteria beyond counting customers."""
    parts = [
        f"{r.count} {label(domain_pb2.Commitment.DESCRIPTOR, r.commitment)}"
        for r in policy.min_commitments
    ]
    if policy.HasField("council_approval"):
        parts.append(council_rule(policy))
    return ", ".join(parts) or "-"


def policy_rules(policy: domain_pb2.GatePolicy) -> str:
    rules = []
    if policy.affiliates_count_once:
        rules.append("affiliates once")
    if policy.sponsor_excluded:
        rules.append("sponsor excluded")
    if policy.max_age_days:
        rules.append(f"max age {policy.max_age_days}d")
    if policy.HasField("relationship_factors"):
        f = policy.relationship_factors
        # The SPEC's defaults go without saying; only a tuned policy shows its factors.
        if (f.active, f.prospect, f.churned) != (1.0, 0.5, 0.5):
            rules.append(f"factors {number(f.active)}/{number(f.prospect)}/{number(f.churned)}")
    return ", ".join(rules) or "-"


def _required(value: float) -> str:
    return number(value) if value else "-"


def pipeline_table(pipeline: domain_pb2.Pipeline, stages: Iterable[str] | None = None) -> Table:
    wanted = set(stages) if stages is not None else None
    return policies_table(
        [p for p in pipeline.policies if wanted is None or p.stage in wanted],
        "Pipeline: " + " → ".join(pipeline.stages),
    )


def requires(policy: domain_pb2.GatePolicy) -> str:
    """What a gate asks, in words: counts, the cap on one customer's share, the rest."""
    parts = []
    if policy.min_customers:
        parts.append(f"{number(policy.min_customers)} customers")
    if policy.min_segments:
        parts.append(f"{number(policy.min_segments)} segments")
    if policy.min_active:
        parts.append(f"{number(policy.min_active)} active")
    if policy.min_weight:
        parts.append(f"weight {number(policy.min_weight)}")
    if policy.max_share:
        parts.append(f"max share {percent(policy.max_share)}")
    extra = also_requires(policy)
    if extra != "-":
        parts.append(extra)
    return ", ".join(parts) or "-"


def policies_table(policies: Sequence[domain_pb2.GatePolicy], title: str | None = None) -> Table:
    # Few columns, the criteria in words: no word is ever cut at 80 columns.
    table = _table(title)
    table.add_column("Gate into", no_wrap=True)
    table.add_column("v", justify="right", no_wrap=True)
    table.add_column("Requires", overflow="fold")
    table.add_column("Weighting", no_wrap=True)
    table.add_column("Rules", overflow="fold")
    for p in policies:
        table.add_row(p.stage, str(p.version), requires(p), weighting(p.weighting), policy_rules(p))
    return table


def keys_table(keys: Sequence[gateway_pb2.ApiKey]) -> Table:
    table = _table()
    table.add_column("Key", no_wrap=True)
    table.add_column("Who", overflow="fold", min_width=16)
    table.add_column("Role", no_wrap=True)
    table.add_column("Acts for", overflow="fold")
    table.add_column("Created", no_wrap=True)
    revoked = any(k.HasField("revoked_at") for k in keys)
    if revoked:
        table.add_column("Revoked", no_wrap=True)
    for k in keys:
        who = Text(k.display_name)
        if k.principal_id != k.display_name:
            who += Text(f"\n{k.principal_id}", style="dim")
        row: list[str | Text] = [k.key_id, who, role(k.role), Text(acts_for(k)), day(k.created_at)]
        if revoked:
            row.append(day(k.revoked_at) if k.HasField("revoked_at") else "-")
        table.add_row(*row)
    return table


def acts_for(key: gateway_pb2.ApiKey) -> str:
    if key.role == gateway_pb2.ROLE_CUSTOMER:
        return f"{key.member_id} @ {key.organization_id}"
    if key.role == gateway_pb2.ROLE_INTEGRATION:
        return ", ".join(key.organization_ids) or "-"
    return "-"


def key_details(key: gateway_pb2.ApiKey, tenant_id: str = "") -> RenderableType:
    rows: list[tuple[str, str | Text]] = []
    if tenant_id:
        rows.append(("Tenant", tenant_id))
    rows += [
        ("Key", key.key_id),
        ("Principal", key.principal_id),
        ("Name", key.display_name),
        ("Role", role(key.role)),
        ("Acts for", acts_for(key)),
        ("Created", timestamp(key.created_at)),
        ("Created by", key.created_by or "-"),
    ]
    if key.HasField("revoked_at"):
        rows.append(("Revoked", timestamp(key.revoked_at)))
    return _fields(rows)


# --- events ------------------------------------------------------------------------


def _payload_type(field: str) -> str:
    message = events_pb2.Event.DESCRIPTOR.fields_by_name[field].message_type
    return message.name if message is not None else field


EVENT_KINDS: tuple[str, ...] = tuple(
    _payload_type(f.name) for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
)


def event_kind(event: events_pb2.Event) -> str:
    field = event.WhichOneof("payload")
    if field is None:
        return "Unknown"
    return _payload_type(field)


def _actor(actor: domain_pb2.Actor) -> str:
    return f" by {actor.display_name or actor.principal_id}" if actor.principal_id else ""


def event_summary(event: events_pb2.Event) -> str:
    """What happened, in a few words (the envelope says when and to which idea)."""
    kind = event.WhichOneof("payload")
    if kind == "idea_submitted":
        s = event.idea_submitted
        return f'"{s.title}" by {member(s.submitted_by)}'
    if kind == "idea_endorsed":
        e = event.idea_endorsed
        return f"{member(e.member)} ({importance(e.importance)})"
    if kind == "endorsement_withdrawn":
        return member(event.endorsement_withdrawn.member)
    if kind == "ideas_merged":
        m = event.ideas_merged
        return f"{m.source_idea_id} merged into {m.target_idea_id}{_actor(m.actor)}"
    if kind == "gate_opened":
        return f"gate into {event.gate_opened.stage} holds"
    if kind == "gate_closed":
        g = event.gate_closed
        return f"gate into {g.stage} no longer holds: {g.report.summary}"
    if kind == "stage_advanced":
        a = event.stage_advanced
        text = f"{a.from_stage or '(new)'} → {a.to_stage}{_actor(a.actor)}"
        if a.override_justification:
            text += f" OVERRIDE: {a.override_justification}"
        return text
    if kind == "stage_advance_rejected":
        r = event.stage_advance_rejected
        return f"{r.from_stage} → {r.to_stage} refused{_actor(r.actor)}: {r.report.summary}"
    if kind == "idea_declined":
        d = event.idea_declined
        return f"declined at {d.stage}{_actor(d.actor)}: {d.reason}"
    if kind == "council_vote_cast":
        vote = event.council_vote_cast
        verdict = "approves" if vote.approve else "rejects"
        return (
            f"{vote.organization_id} ({vote.council_id}) {verdict} the gate into {vote.stage}: "
            f"{vote.approvals} for, {vote.rejections} against"
        )
    if kind == "stage_overridden":
        forced = event.stage_overridden
        return (
            f"{forced.from_stage} → {forced.to_stage} OVERRIDDEN{_actor(forced.actor)}: "
            f"{forced.justification}"
        )
    if kind == "idea_co_signed":
        signed = event.idea_co_signed
        return f"co-signed by {signed.council_name or signed.council_id}"
    if kind == "introduction_requested":
        asked = event.introduction_requested
        return f"{asked.requester_organization_id} asks to meet {asked.peer_organization_id}"
    if kind == "introduction_answered":
        answered = event.introduction_answered
        verdict = "accepts" if answered.accepted else "declines"
        return (
            f"{answered.peer_organization_id} {verdict} "
            f"{answered.requester_organization_id}'s introduction"
        )
    return ""


def event_line(answer: gateway_pb2.WatchEventsResponse) -> str:
    """One line per event, cursor first so a reader can resume from any line."""
    event = answer.event
    envelope = event.envelope
    idea = f"idea={envelope.idea_id}" if envelope.idea_id else "tenant"
    return (
        f"cursor={answer.cursor} {timestamp(envelope.occurred_at)} "
        f"{event_kind(event)} {idea} {event_summary(event)}"
    ).rstrip()


# --- insights and peers ------------------------------------------------------------


def organization_scorecard(card: domain_pb2.OrganizationScorecard) -> RenderableType:
    median = f"{card.median_days_to_decision:.1f} days" if card.decisions else "no decision yet"
    return _fields(
        [
            ("Organization", card.organization_id),
            ("Submitted", str(card.submitted)),
            ("Endorsed", str(card.endorsed)),
            ("Launched", str(card.launched)),
            ("Declined with a reason", str(card.declined_with_reason)),
            ("Decisions", str(card.decisions)),
            ("Median endorsement → decision", median),
        ]
    )


def tenant_scorecard(card: domain_pb2.TenantScorecard) -> RenderableType:
    clean_share = percent(card.share_launched_without_override)
    return _fields(
        [
            ("Overrides", str(card.overrides)),
            ("Launched", str(card.launched)),
            ("Launched without override", f"{card.launched_without_override} ({clean_share})"),
            ("Single-customer ideas stopped", str(card.single_customer_ideas_stopped)),
        ]
    )


def what_if(answer: gateway_pb2.WhatIfResponse) -> RenderableType:
    parts: list[RenderableType] = [
        Text(
            f"The draft gate into {answer.stage}: {len(answer.would_open)} would open, "
            f"{len(answer.would_close)} would close, {answer.unchanged} unchanged; "
            f"{len(answer.past_advances_refused)} of {answer.past_advances_checked} past "
            "advances would have been refused."
        )
    ]
    for title, verdicts in (("Would open", answer.would_open), ("Would close", answer.would_close)):
        if verdicts:
            table = _table(title)
            table.add_column("Idea")
            table.add_column("Now")
            table.add_column("With the draft")
            for v in verdicts:
                table.add_row(
                    v.idea_id,
                    "holds" if v.holds_now else "does not hold",
                    Text(v.summary),
                )
            parts.append(table)
    if answer.past_advances_refused:
        table = _table("Past advances the draft would have refused")
        table.add_column("Idea")
        table.add_column("Decided")
        table.add_column("Why")
        for r in answer.past_advances_refused:
            table.add_row(r.idea_id, timestamp(r.decided_at), Text(r.summary))
        parts.append(table)
    return Group(*parts)


def peers_table(peers: Sequence[domain_pb2.Peer]) -> Table:
    table = _table()
    for column in ("Organization", "Name", "Segment"):
        table.add_column(column)
    for p in peers:
        table.add_row(Text(p.organization_id), Text(p.name), Text(p.segment))
    return table


def introduction_status(value: int) -> str:
    return label(domain_pb2.IntroductionStatus.DESCRIPTOR, value)


def introductions_table(introductions: Sequence[domain_pb2.Introduction]) -> Table:
    table = _table()
    for column in ("Introduction", "Idea", "From", "To", "Status", "Message", "Contacts"):
        table.add_column(column, overflow="fold")
    for i in introductions:
        contacts = " / ".join(c for c in (i.requester_contact, i.peer_contact) if c) or "-"
        table.add_row(
            i.introduction_id,
            i.idea_id,
            Text(f"{i.requester_member_id} @ {i.requester_organization_id}"),
            Text(i.peer_organization_id),
            introduction_status(i.status),
            Text(i.message or "-"),
            Text(contacts),
        )
    return table
