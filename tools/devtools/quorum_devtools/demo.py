"""`make demo`: the SPEC's newcomer scenario, told step by step through the Quorum client.

One huge customer (ARR ten times the next) submits an idea and endorses it as
CRITICAL; the PDP tool's request to move it to DISCOVERY is refused, with the gate's
sentence and its unmet criteria. A modest idea endorsed by five small customers in
three industries passes DISCOVERY and DESIGN, and its endorsers are told.

    python -m quorum_devtools.demo            # against QUORUM_ADDRESS (default 127.0.0.1:50051)

It needs an admin key: QUORUM_API_KEY, or else it bootstraps a fresh demo tenant with
`python -m quorum_gateway.bootstrap`. When nothing serves at the default local address
it starts the platform (`python -m quorum_devtools.run`, log in .local/demo-run.log)
and stops it afterwards; `--no-start` refuses instead. The exit code is 0 only if the
story unfolded as the SPEC says.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.client import (
    ADDRESS_ENV,
    API_KEY_ENV,
    DEFAULT_ADDRESS,
    Client,
    QuorumError,
)
from quorum_devtools import platform
from quorum_devtools.infra import DEFAULT_DIR

RUN_LOG = DEFAULT_DIR / "demo-run.log"
STARTUP_SECONDS = 90.0
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


def _is_local_default(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return host in ("127.0.0.1", "localhost") and port == str(platform.DEFAULT_PORTS["gateway"])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_platform(
    address: str,
    timeout: float = STARTUP_SECONDS,
    log_path: Path = RUN_LOG,
    say: Callable[[str], None] = print,
) -> subprocess.Popen[bytes] | None:
    """Make sure a gateway is SERVING at `address`; start `make run`'s supervisor if not.

    Returns the supervisor process when this call started it (stop it with
    `stop_platform`), None when a platform was already running.
    """
    if platform.serving(address):
        return None
    if not _is_local_default(address):
        raise DemoError(
            f"no Quorum gateway is serving at {address}; start it there, or unset "
            f"{ADDRESS_ENV} to let the demo start one locally"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    say(f"No platform is serving at {address}; starting one (log: {log_path}) ...")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum_devtools.run"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in this terminal reaches the demo, whose
            # `finally` then stops the platform in order instead of both racing.
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not platform.serving(address, 1.0):
        code = process.poll()
        if code is not None:
            raise DemoError(
                f"the platform stopped with exit code {code} while starting; "
                f"the end of {log_path}:\n{_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            stop_platform(process)
            raise DemoError(
                f"the platform was not SERVING after {timeout:.0f}s; "
                f"the end of {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(0.5)
    say(f"The platform is up at {address}.")
    return process


def stop_platform(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Stop a supervisor started by `ensure_platform` the way Ctrl-C would."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def admin_key(tenant: str | None = None) -> tuple[str, str]:
    """An admin key and where it came from: QUORUM_API_KEY, or a freshly bootstrapped tenant."""
    configured = os.environ.get(API_KEY_ENV)
    if configured:
        return configured, f"the admin key in {API_KEY_ENV}"
    tenant = tenant or f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "quorum_gateway.bootstrap",
                "--tenant",
                tenant,
                "--admin-name",
                "Demo admin",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise DemoError(f"bootstrapping tenant {tenant} took over 60s") from error
    secret = done.stdout.strip()
    if done.returncode != 0 or not secret or len(secret.split()) != 1:
        raise DemoError(
            f"bootstrapping tenant {tenant} failed (exit {done.returncode}): "
            f"{done.stderr.strip() or 'it printed no key'}"
        )
    return secret, f"a fresh tenant {tenant!r} (bootstrapped for this demo)"


# --- the story ---------------------------------------------------------------------


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


def _wait(
    client: Client, idea_id: str, until: Callable[[gateway_pb2.Idea], bool], what: str
) -> gateway_pb2.Idea:
    try:
        return client.wait_for_idea(idea_id, until, within=EVENTUAL_SECONDS)
    except TimeoutError as error:
        raise DemoError(f"waited for {what}: {error}") from error


def advance_when_open(pm: Client, idea_id: str, target: str) -> gateway_pb2.AdvanceStageResponse:
    """Wait for the gate into `target` to hold, then advance with optimistic concurrency."""
    for attempt in range(3):
        idea = _wait(
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
    idea = _wait(
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
    idea = _wait(
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


def tell(address: str, key: str, key_source: str, console: Console) -> None:
    story = Narrator(console)
    with ExitStack() as stack:
        admin = stack.enter_context(Client(address, key))
        story.step("Who is telling the story")
        me = admin.who_am_i()
        story.say(
            f"Gateway {address}, tenant {me.tenant_id!r}, as {me.key.display_name} "
            f"({render.role(me.key.role)}), using {key_source}."
        )
        if me.key.role != gateway_pb2.ROLE_VENDOR_ADMIN:
            raise DemoError(f"the demo needs a VENDOR_ADMIN key; {API_KEY_ENV} is not one")

        story.step("The gates in force")
        story.show(render.pipeline_table(admin.get_pipeline(), ["DISCOVERY", "DESIGN"]))
        story.say(
            "An idea moves to the next stage only when every criterion of its gate holds; "
            "max share is the anti-dominance cap."
        )

        set_up_directory(story, admin)
        cast = create_keys(story, admin, stack)
        blocked_id = megacorp_is_refused(story, cast)
        modest_id = modest_idea_passes(story, cast)
        who_was_told(story, cast, blocked_id, modest_id)
        the_lesson(story, cast, blocked_id, modest_id)
        the_council_votes(story, cast, modest_id)
        an_override_is_never_silent(story, cast, blocked_id)


@contextmanager
def _platform(address: str, start: bool, console: Console) -> Iterator[None]:
    process = ensure_platform(address, say=console.print) if start else None
    try:
        yield
    finally:
        if process is not None:
            console.print("Stopping the platform the demo started ...")
            stop_platform(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m quorum_devtools.demo",
        description="The SPEC's newcomer scenario through the Quorum client.",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
        help=f"the gateway (default: ${ADDRESS_ENV} or {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--no-start",
        dest="start",
        action="store_false",
        help="do not start the platform when none is serving locally; fail instead",
    )
    parser.add_argument("--tenant", help="the tenant to bootstrap (without QUORUM_API_KEY)")
    args = parser.parse_args(argv)
    # Piped into a log or `tee`, rich would assume 80 columns and squeeze the tables.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 100)
    console.print(Text("Quorum: the scenario every newcomer should see", style="bold underline"))
    try:
        with _platform(args.address, args.start, console):
            if not args.start and not platform.serving(args.address):
                raise DemoError(
                    f"no Quorum gateway is serving at {args.address} "
                    "(`make run` starts one; without --no-start the demo starts one itself)"
                )
            key, source = admin_key(args.tenant)
            tell(args.address, key, source, console)
    except DemoError as error:
        console.print(Text(f"\nThe story did not unfold: {error}", style="bold red"))
        return 1
    except QuorumError as error:
        console.print(Text(f"\nThe story did not unfold: {error}", style="bold red"))
        for violation in error.field_violations:
            console.print(Text(f"  • {violation.field}: {violation.description}"))
        return 1
    except KeyboardInterrupt:
        console.print("\ninterrupted")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
