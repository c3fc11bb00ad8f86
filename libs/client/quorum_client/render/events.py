"""Events as one line each, cursor first, so a reader can resume from any line."""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.render.text import importance, member, timestamp


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
