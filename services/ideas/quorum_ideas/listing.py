"""Listing ideas and endorsements page by page, pure: filters and page tokens.

A page token continues one listing: it carries the position after the last item of
the previous page and a fingerprint of the filters, so reusing it with other filters
is refused instead of silently skipping or repeating items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quorum_common.errors import Violations
from quorum_ideas.domain import Status
from quorum_ideas.requests import (
    PRODUCT_AREA_MAX,
    STAGE_MAX,
    TAG_MAX,
    TAG_PATTERN,
    check_idea_id,
    check_tenant,
)

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
ENDORSEMENTS_PAGE_SIZE_DEFAULT = 50
ENDORSEMENTS_PAGE_SIZE_MAX = 500


@dataclass(frozen=True)
class ListFilter:
    """What ListIdeas matches; empty fields match everything."""

    stage: str = ""
    status: Status | None = None
    product_area: str = ""
    tag: str = ""


@dataclass(frozen=True)
class PagePosition:
    """The last idea of a page: the next page starts after it (newest first)."""

    created_at: datetime
    idea_id: str


@dataclass(frozen=True)
class ListRequest:
    tenant_id: str
    filter: ListFilter
    page_size: int
    after: PagePosition | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_TOKEN_FORMAT = 1


def _filter_key(tenant_id: str, chosen: ListFilter) -> str:
    # A token continues one listing; reusing it with other filters would skip or
    # repeat ideas silently, so it carries a fingerprint of what it listed.
    status = int(chosen.status) if chosen.status is not None else 0
    text = json.dumps([tenant_id, chosen.stage, status, chosen.product_area, chosen.tag])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _milliseconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def encode_page_token(tenant_id: str, chosen: ListFilter, position: PagePosition) -> str:
    body = {
        "v": _TOKEN_FORMAT,
        "t": _milliseconds(position.created_at),
        "i": position.idea_id,
        "f": _filter_key(tenant_id, chosen),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(
    violations: Violations, tenant_id: str, chosen: ListFilter, token: str
) -> PagePosition | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("v") != _TOKEN_FORMAT:
            raise ValueError("unknown token format")
        millis, idea_id, key = body["t"], body["i"], body["f"]
        if not isinstance(millis, int) or not isinstance(idea_id, str):
            raise ValueError("malformed position")
        position = PagePosition(_EPOCH + millis * _MILLISECOND, str(uuid.UUID(idea_id)))
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        violations.add("page_token", "is not a next_page_token returned by ListIdeas")
        return None
    if key != _filter_key(tenant_id, chosen):
        violations.add("page_token", "belongs to a listing with other filters")
        return None
    return position


def check_list(
    *,
    tenant_id: str,
    stage: str,
    status: int,
    product_area: str,
    tag: str,
    page_size: int,
    page_token: str,
) -> ListRequest:
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    if len(stage) > STAGE_MAX:
        violations.add("stage", f"must be at most {STAGE_MAX} characters")
    if status and status not in {s.value for s in Status}:
        violations.add("status", "must be OPEN, MERGED, DECLINED or LAUNCHED")
    if len(product_area) > PRODUCT_AREA_MAX:
        violations.add("product_area", f"must be at most {PRODUCT_AREA_MAX} characters")
    clean_tag = tag.strip().lower()
    if clean_tag and (len(clean_tag) > TAG_MAX or not TAG_PATTERN.match(clean_tag)):
        violations.add("tag", f"must be 1-{TAG_MAX} of a-z, 0-9, '.', '_', '-'")
    if page_size < 0:
        violations.add("page_size", "must not be negative")
    chosen = ListFilter(
        stage=stage.strip(),
        status=Status(status) if status in {s.value for s in Status} else None,
        product_area=product_area.strip(),
        tag=clean_tag,
    )
    after = decode_page_token(violations, tenant, chosen, page_token)
    violations.raise_if_any()
    return ListRequest(
        tenant_id=tenant,
        filter=chosen,
        page_size=min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX),
        after=after,
    )


# --- endorsements of one idea, one organization each ---------------------------


@dataclass(frozen=True)
class EndorsementsRequest:
    tenant_id: str
    idea_id: str
    page_size: int
    # The organization id after which the page starts ("" = from the first).
    after: str


_ENDORSEMENTS_TOKEN_FORMAT = 1


def encode_endorsements_token(tenant_id: str, idea_id: str, after: str) -> str:
    body = {"v": _ENDORSEMENTS_TOKEN_FORMAT, "o": after, "f": _idea_key(tenant_id, idea_id)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _idea_key(tenant_id: str, idea_id: str) -> str:
    return hashlib.sha256(json.dumps([tenant_id, idea_id]).encode()).hexdigest()[:16]


def check_endorsements_request(
    *, tenant_id: str, idea_id: str, page_size: int, page_token: str
) -> EndorsementsRequest:
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    idea = check_idea_id(violations, "idea_id", idea_id)
    if page_size < 0:
        violations.add("page_size", "must not be negative")
    after = ""
    if page_token:
        try:
            raw = base64.urlsafe_b64decode(page_token + "=" * (-len(page_token) % 4))
            body = json.loads(raw)
            if not isinstance(body, dict) or body.get("v") != _ENDORSEMENTS_TOKEN_FORMAT:
                raise ValueError("unknown token format")
            after, key = body["o"], body["f"]
            if not isinstance(after, str) or not isinstance(key, str):
                raise ValueError("malformed position")
        except (binascii.Error, ValueError, KeyError, TypeError):
            violations.add("page_token", "is not a next_page_token returned by ListEndorsements")
            key = ""
        if key and idea and key != _idea_key(tenant, idea):
            violations.add("page_token", "belongs to the endorsements of another idea")
    violations.raise_if_any()
    size = min(page_size or ENDORSEMENTS_PAGE_SIZE_DEFAULT, ENDORSEMENTS_PAGE_SIZE_MAX)
    return EndorsementsRequest(tenant, idea, size, after)
