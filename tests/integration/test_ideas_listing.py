"""The ideas service's reads and projection against the real broker and MongoDB: listing
pages and filters, stage and status events projected onto ideas, dead letters (the
service: support/ideas_service.py).
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from quorum.ideas.v1 import ideas_pb2
from quorum_common.processed import PROCESSED
from quorum_ideas.__main__ import CONSUMER
from support.ideas_merges import merge
from support.ideas_service import (
    DECLINED,
    LAUNCHED,
    MERGED,
    OPEN,
    Running,
    endorse_idea,
    eventually,
    get,
    idea_declined,
    publish_validation,
    records_until,
    stage_advanced,
    submit,
)
from support.statuses import bad_field_names

pytestmark = pytest.mark.integration

# --- list -----------------------------------------------------------------------------------


async def list_pages(running: Running, **fields: Any) -> list[list[ideas_pb2.Idea]]:
    """Every page of one listing, following next_page_token to the end."""
    request = ideas_pb2.ListIdeasRequest(**fields)
    pages = []
    while True:
        answer = await running.stub.ListIdeas(request)
        pages.append(list(answer.ideas))
        if not answer.next_page_token:
            return pages
        request.page_token = answer.next_page_token


def ids(ideas: list[ideas_pb2.Idea]) -> list[str]:
    return [idea.id for idea in ideas]


def newest_first(ideas: list[ideas_pb2.Idea]) -> list[str]:
    ordered = sorted(ideas, key=lambda i: (i.created_at.ToDatetime(), i.id), reverse=True)
    return ids(ordered)


async def test_listing_pages_through_the_tenants_ideas_newest_first(
    ideas: Running, tenant: str
) -> None:
    submitted = [
        await submit(ideas, tenant, title=f"Idea number {n}", tags=[f"t{n % 2}"]) for n in range(7)
    ]
    await submit(ideas, f"{tenant}-other")  # never listed for this tenant

    pages = await list_pages(ideas, tenant_id=tenant, page_size=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [i for page in pages for i in ids(page)] == newest_first(submitted)
    everything = await ideas.stub.ListIdeas(ideas_pb2.ListIdeasRequest(tenant_id=tenant))
    assert ids(list(everything.ideas)) == newest_first(submitted)
    assert not everything.next_page_token

    # Ideas submitted after the first page do not shift the pages that follow.
    first = await ideas.stub.ListIdeas(ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=4))
    await submit(ideas, tenant, title="A late idea")
    rest = await ideas.stub.ListIdeas(
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=4, page_token=first.next_page_token)
    )
    assert ids(list(first.ideas)) + ids(list(rest.ideas)) == newest_first(submitted)


async def test_listing_filters_by_tag_product_area_status_and_stage(
    ideas: Running, tenant: str
) -> None:
    csv = await submit(ideas, tenant, tags=["Export", "csv"], product_area="reporting")
    sso = await submit(ideas, tenant, tags=["auth"], product_area="security")
    pdf = await submit(ideas, tenant, tags=["export"], product_area="reporting")
    await merge(ideas, tenant, pdf.id, csv.id)

    async def listed(**filters: Any) -> list[str]:
        pages = await list_pages(ideas, tenant_id=tenant, page_size=1, **filters)
        return [i for page in pages for i in ids(page)]

    assert await listed(tag="EXPORT") == [pdf.id, csv.id]
    assert await listed(tag="auth") == [sso.id]
    assert await listed(product_area="security") == [sso.id]
    assert await listed(status=MERGED) == [pdf.id]
    assert await listed(status=OPEN, tag="export") == [csv.id]
    assert await listed(tag="nothing-has-this") == []

    await publish_validation(ideas, stage_advanced(sso, "", "IDEATION"))
    await publish_validation(ideas, stage_advanced(sso, "IDEATION", "DISCOVERY"))

    async def in_discovery() -> list[str] | None:
        found = await listed(stage="DISCOVERY")
        return found or None

    assert await eventually(in_discovery, "the projected stage") == [sso.id]
    assert await listed(stage="IDEATION") == []


async def test_a_bad_page_token_is_invalid_argument_naming_it(ideas: Running, tenant: str) -> None:
    for _ in range(3):
        await submit(ideas, tenant, tags=["export"])
    first = await ideas.stub.ListIdeas(
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, tag="export", page_size=1)
    )
    for request in (
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_token="garbage"),
        # A token continues the listing it came from, not another one.
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_token=first.next_page_token),
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=-1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await ideas.stub.ListIdeas(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_field_names(raised.value) <= {"page_token", "page_size"}
        assert bad_field_names(raised.value)


# --- stage and status projection ----------------------------------------------------------


async def test_stage_events_project_onto_the_idea_and_redelivery_changes_nothing(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    recorded = stage_advanced(idea, "", "IDEATION")
    discovery = stage_advanced(idea, "IDEATION", "DISCOVERY")

    await publish_validation(ideas, recorded)
    await publish_validation(ideas, recorded)
    await publish_validation(ideas, discovery)
    # Delivered again after a later event: applied twice, it would move the idea back.
    await publish_validation(ideas, recorded)
    await publish_validation(ideas, idea_declined(idea, "DISCOVERY"))

    async def declined() -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.status == DECLINED else None

    after = await eventually(declined, "the decline")
    assert after.stage == "DISCOVERY"
    # The projection serves reads; it does not make callers' expected_version stale.
    assert after.version == idea.version
    processed = ideas.database[PROCESSED]
    assert await processed.count_documents({"_id": recorded.envelope.event_id}) == 1

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, idea, "globex", "gil")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_launch_sets_the_status_and_a_merge_is_never_undone(
    ideas: Running, tenant: str
) -> None:
    launched = await submit(ideas, tenant)
    source = await submit(ideas, tenant)
    target = await submit(ideas, tenant)
    await merge(ideas, tenant, source.id, target.id)

    await publish_validation(ideas, stage_advanced(launched, "BETA", "LAUNCH", LAUNCHED))
    # The ledger may record an idea after it was merged here: the merge stands.
    await publish_validation(ideas, stage_advanced(source, "", "IDEATION", OPEN))

    async def projected(idea: ideas_pb2.Idea) -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.stage else None

    assert (await eventually(lambda: projected(launched), "launch")).status == LAUNCHED
    merged = await eventually(lambda: projected(source), "stage of the merged idea")
    assert (merged.status, merged.stage) == (MERGED, "IDEATION")


async def test_a_poison_event_is_dead_lettered_and_the_next_one_applied(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    nameless = stage_advanced(idea, "IDEATION", "")
    await ideas.broker.publish(
        b"\x00not an event", topic=ideas.topics.validation, key=idea.id.encode()
    )
    await publish_validation(ideas, nameless)
    await publish_validation(ideas, stage_advanced(idea, "", "IDEATION"))

    async def recorded() -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.stage else None

    assert (await eventually(recorded, "the good event")).stage == "IDEATION"

    def reasons(records: list[Any]) -> list[str]:
        found = []
        for record in records:
            found += [
                value.decode()
                for key, value in record.headers
                if key == "quorum-dlq-reason" and record.key == idea.id.encode()
            ]
        return found

    dead = await records_until(
        ideas, ideas.topics.dead_letter(CONSUMER), lambda rs: len(reasons(rs)) >= 2
    )
    found = reasons(dead)
    assert any(reason.startswith("undecodable") for reason in found)
    assert any("to_stage" in reason for reason in found)
