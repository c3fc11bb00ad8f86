"""What a notification says: the webhook's JSON body and the e-mail's text.

The body is built once when the delivery is planned and stored with it, so every
attempt sends the same bytes (a receiver may compare them) and the log shows what
was sent.
"""

from __future__ import annotations

import json
from typing import Any

from quorum_notifications.domain import Kind, Notification, Recipient
from quorum_notifications.messages import recipient_document

FIELD_MAX = 500


def recipient_json(recipient: Recipient) -> dict[str, str]:
    """The recipient as it is stored, but a team named in lower case (`"product"`)."""
    shown = dict(recipient_document(recipient))
    if recipient.team is not None:
        shown["team"] = recipient.team.value.lower()
    return shown


def payload(
    notification: Notification, recipient: Recipient, delivery_id: str, title: str
) -> dict[str, Any]:
    """The webhook body as a JSON-ready dict; the e-mail is written from it too."""
    return {
        "id": delivery_id,
        "type": notification.kind.webhook_type,
        "event_id": notification.event_id,
        "tenant_id": notification.tenant_id,
        "occurred_at": notification.occurred_at.isoformat().replace("+00:00", "Z"),
        "recipient": recipient_json(recipient),
        "idea": {"id": notification.idea_id, "title": title},
        "data": notification.data,
    }


def body(document: dict[str, Any]) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the same dict always gives the same bytes."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _one_line(text: str, limit: int = FIELD_MAX) -> str:
    # Titles come from customers; a line break in a header would forge headers.
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _whose(recipient: dict[str, str]) -> str:
    if recipient.get("type") == "organization":
        return "your organization endorsed"
    return "you endorsed or submitted"


def email(document: dict[str, Any], kind: Kind) -> tuple[str, str]:
    """Subject and plain-text body of the e-mail for a stored webhook body."""
    idea = document["idea"]
    data = document["data"]
    title = _one_line(idea.get("title") or idea["id"], 150)
    whose = _whose(document["recipient"])
    if kind is Kind.STAGE_ADVANCED:
        subject = f'"{title}" moved to {data["to_stage"]}'
        lines = [
            f'The idea "{title}" that {whose} moved from {data["from_stage"]} '
            f"to {data['to_stage']}."
        ]
        if data.get("overridden"):
            lines.append("The vendor moved it with a recorded override of its gate.")
    elif kind is Kind.IDEA_LAUNCHED:
        subject = f'"{title}" launched'
        lines = [f'The idea "{title}" that {whose} has launched ({data["to_stage"]}).']
        if data.get("overridden"):
            lines.append("The vendor moved it with a recorded override of its gate.")
    elif kind is Kind.IDEA_DECLINED:
        subject = f'"{title}" was declined'
        lines = [
            f'The idea "{title}" that {whose} was declined in {data["stage"]}.',
            f"Reason: {data['reason']}",
        ]
    elif kind is Kind.STAGE_OVERRIDDEN:
        subject = f'"{title}" was moved to {data["to_stage"]} by an override'
        lines = [
            f'{data["by"]} moved the idea "{title}" from {data["from_stage"]} to '
            f"{data['to_stage']} although its gate did not hold ({_one_line(data['summary'])}).",
            f"Justification: {data['justification']}",
        ]
    elif kind is Kind.INTRODUCTION_REQUESTED:
        subject = f"{data['requester_organization_id']} asks to be introduced"
        lines = [
            f'{data["requester_organization_id"]}, which also backs "{title}", asks for an '
            "introduction. Accept or decline it in Quorum "
            f"(introduction {data['introduction_id']}).",
            f"Their message: {data['message']}",
        ]
    elif kind is Kind.INTRODUCTION_ANSWERED:
        answer = "accepted" if data["accepted"] else "declined"
        subject = f"{data['peer_organization_id']} {answer} your introduction"
        lines = [f'{data["peer_organization_id"]} {answer} the introduction about "{title}".']
        if data["accepted"] and data.get("peer_contact"):
            lines.append(f"Contact: {data['peer_contact']}")
    else:
        subject = f'The gate into {data["stage"]} holds for "{title}"'
        lines = [
            f'The idea "{title}" can now move to {data["stage"]}: '
            f"{_one_line(data.get('summary', ''))}."
        ]
    lines += [
        "",
        f"Idea: {idea['id']}",
        f"Event: {document['event_id']} at {document['occurred_at']}",
        f"Notification: {document['id']}",
        "",
        "-- Quorum: many customers' evidence, one roadmap.",
    ]
    return _one_line(f"Quorum: {subject}", 200), "\n".join(lines) + "\n"
