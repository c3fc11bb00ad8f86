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
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from rich.console import Console
from rich.text import Text

from quorum.gateway.v1 import gateway_pb2
from quorum_client import ADDRESS_ENV, API_KEY_ENV, DEFAULT_ADDRESS, Client, QuorumError, render
from quorum_devtools import platform
from quorum_devtools.demo_cast import DemoError, Narrator
from quorum_devtools.demo_platform import admin_key, ensure_platform, stop_platform
from quorum_devtools.demo_story import (
    an_override_is_never_silent,
    create_keys,
    megacorp_is_refused,
    modest_idea_passes,
    set_up_directory,
    the_council_votes,
    the_lesson,
    who_was_told,
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
