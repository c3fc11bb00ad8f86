"""An event's type is its payload's message name: what consumers and the stream filter by."""

from __future__ import annotations

from quorum_common.events import event_type
from support import events


def test_event_types_are_named_by_their_payload() -> None:
    assert event_type(events.submitted("acme", "x")) == "IdeaSubmitted"
