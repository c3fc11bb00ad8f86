"""The demo's cast: the customers, the council, the narrator, and how the story waits.

MegaCorp (ARR ten times the next customer's) and five small customers in three
industries; everyone acts through a client of their own, so with their own key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, RenderableType
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import Client

# Stages and gate verdicts follow endorsements through Kafka; on a laptop that takes
# milliseconds, but a cold broker or a busy CI machine deserves patience.
EVENTUAL_SECONDS = 30.0


class DemoError(Exception):
    """The story did not unfold as the SPEC says (or could not be told at all)."""


@dataclass(frozen=True)
class Customer:
    organization_id: str
    name: str
    segment: str
    arr: int  # minor units
    member_id: str
    member_name: str
    job: domain_pb2.JobFunction.ValueType = domain_pb2.JOB_FUNCTION_EXECUTIVE

    def member(self) -> domain_pb2.MemberRef:
        return domain_pb2.MemberRef(
            organization_id=self.organization_id, member_id=self.member_id, job_function=self.job
        )

    def organization(self) -> domain_pb2.Organization:
        return domain_pb2.Organization(
            organization_id=self.organization_id,
            name=self.name,
            segment=self.segment,
            arr=self.arr,
            relationship=domain_pb2.RELATIONSHIP_ACTIVE,
        )


# MegaCorp's ARR is ten times the next customer's: under ARR_LINEAR weighting it
# carries any idea it endorses alone, which is exactly what the gate must not allow.
MEGACORP = Customer("megacorp", "MegaCorp", "banking", 480_000_000, "morgan", "Morgan (CEO)")
MEGACORP_CTO = Customer(
    "megacorp",
    "MegaCorp",
    "banking",
    480_000_000,
    "taylor",
    "Taylor (CTO)",
    domain_pb2.JOB_FUNCTION_TECHNICAL,
)
# Five small customers in three industries, every one ACTIVE (DESIGN wants 3 active).
SMALL = (
    Customer("northwind", "Northwind Retail", "retail", 48_000_000, "ana", "Ana"),
    Customer("bluebird", "Bluebird Clinics", "healthcare", 42_000_000, "ben", "Ben"),
    Customer("harborline", "Harborline Logistics", "logistics", 36_000_000, "chen", "Chen"),
    Customer("crumb", "Crumb & Co Bakeries", "retail", 30_000_000, "dora", "Dora"),
    Customer("meadow", "Meadow Health", "healthcare", 25_000_000, "eli", "Eli"),
)
# How much the modest idea matters to each: no one of them outweighs the 40% cap of
# the DESIGN gate (the largest share is Bluebird's, about a third).
MODEST_IMPORTANCE = {
    "northwind": domain_pb2.IMPORTANCE_IMPORTANT,
    "bluebird": domain_pb2.IMPORTANCE_CRITICAL,
    "harborline": domain_pb2.IMPORTANCE_IMPORTANT,
    "crumb": domain_pb2.IMPORTANCE_NICE_TO_HAVE,
    "meadow": domain_pb2.IMPORTANCE_IMPORTANT,
}
COUNCIL = domain_pb2.Council(
    council_id="advisory-board",
    name="Customer Advisory Board",
    charter="Customers who validate key initiatives before the vendor builds them.",
    member_organization_ids=[MEGACORP.organization_id, *(c.organization_id for c in SMALL)],
)


# --- the platform ------------------------------------------------------------------


class Narrator:
    """Numbered steps, short sentences, tables: the story as a newcomer reads it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._step = 0

    def step(self, title: str) -> None:
        self._step += 1
        self.console.print()
        self.console.print(Text(f"{self._step}. {title}", style="bold"))

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(f"   {text}", style=style), soft_wrap=True)

    def show(self, renderable: RenderableType) -> None:
        self.console.print(renderable)


@dataclass
class Cast:
    """Everyone in the story, each with their own client (and so their own key)."""

    admin: Client
    pm: Client
    customers: dict[str, Client]  # by member id


def wait_for(
    client: Client, idea_id: str, until: Callable[[gateway_pb2.Idea], bool], what: str
) -> gateway_pb2.Idea:
    try:
        return client.wait_for_idea(idea_id, until, within=EVENTUAL_SECONDS)
    except TimeoutError as error:
        raise DemoError(f"waited for {what}: {error}") from error
