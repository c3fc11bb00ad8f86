"""`quorum events watch`: the tenant's events as they happen, for people and scripts.

It says on stderr what it watches and where (stdout carries only events, so a pipe
gets them alone), and a dropped stream is resumed from the last cursor with capped
backoff until Ctrl-C: a `make run` restart, or a gateway rollout, is waited out.
"""

from __future__ import annotations

import re
import time
from typing import Annotated

import grpc
import typer
from google.protobuf import json_format
from rich.text import Text

from quorum_client import render
from quorum_client.cli.terminal import State, print_error, state_of
from quorum_client.errors import QuorumError

events_app = typer.Typer(help="The tenant's event stream.", no_args_is_help=True)

# Waits before each reconnect; the last repeats until the stream is back or Ctrl-C.
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


def event_kind(value: str) -> str:
    """GateOpened, gate_opened, gate-opened and gateopened all name GateOpened."""
    key = re.sub(r"[-_\s]", "", value).lower()
    for kind in render.EVENT_KINDS:
        if kind.lower() == key:
            return kind
    raise typer.BadParameter(
        f"{value!r} is not an event kind; one of {', '.join(render.EVENT_KINDS)}",
        param_hint="--kind",
    )


def watching(state: State, idea: str, kinds: list[str], cursor: str) -> str:
    """What this watch follows, from where: said before the first event arrives."""
    what = f"idea {idea}'s events" if idea else "the tenant's events"
    if kinds:
        what += f" ({', '.join(kinds)})"
    start = {"": "from now", "0": "from the oldest kept"}.get(cursor, f"after cursor {cursor}")
    return f"watching {what} at {state.address}, {start}; Ctrl-C stops"


def reconnect_delay(retries: int) -> float:
    return RECONNECT_DELAYS[min(retries, len(RECONNECT_DELAYS) - 1)]


@events_app.command("watch")
def events_watch(
    ctx: typer.Context,
    idea: Annotated[str, typer.Option("--idea", help="Only this idea's events.")] = "",
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Only this kind, e.g. GateOpened; repeat for more."),
    ] = None,
    cursor: Annotated[
        str,
        typer.Option(
            "--cursor", help="Resume after this cursor; '0' from the oldest kept; default: now."
        ),
    ] = "",
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Stop after this many events (0: never).")
    ] = 0,
    duration: Annotated[
        float, typer.Option("--duration", min=0, help="Stop after this many seconds (0: never).")
    ] = 0.0,
    reconnect: Annotated[
        bool,
        typer.Option(
            "--reconnect/--no-reconnect",
            help="Resume from the last cursor whenever the stream drops, until Ctrl-C.",
        ),
    ] = True,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per event (as `quorum --json`).")
    ] = False,
) -> None:
    """Print the tenant's events as they happen, one line each, cursor first."""
    kinds = [event_kind(k) for k in kind or ()]
    state = state_of(ctx)
    as_json = state.json or json_output
    deadline = time.monotonic() + duration if duration else None
    position = cursor
    seen = 0
    retries = 0
    client = state.client()
    state.err.print(Text(watching(state, idea, kinds, cursor), style="dim"))
    try:
        while True:
            remaining = None if deadline is None else max(0.01, deadline - time.monotonic())
            stream = client.watch_events(
                idea_id=idea, kinds=kinds, cursor=position, timeout=remaining
            )
            try:
                for answer in stream:
                    retries = 0
                    position = answer.cursor
                    seen += 1
                    if as_json:
                        line = json_format.MessageToJson(
                            answer, preserving_proto_field_name=True, indent=None
                        )
                    else:
                        line = render.event_line(answer)
                    typer.echo(line)
                    if limit and seen >= limit:
                        return
                return  # the gateway ended the stream
            except QuorumError as error:
                if error.code is grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
                    return  # --duration ran out: a normal end
                # Reconnect only a stream that opened: a gateway that was never
                # reachable is reported at once, not retried in silence. One asked
                # "from now" resumes after the cursor it opened at: no gap.
                opened_after = stream.opened_after()
                if not position and opened_after is not None:
                    position = opened_after
                opened = seen or opened_after is not None
                if not (reconnect and opened and error.code is grpc.StatusCode.UNAVAILABLE):
                    print_error(state, error)
                    raise typer.Exit(1) from None
                wait = reconnect_delay(retries)
                state.err.print(
                    Text(
                        f"stream lost ({error.message}); reconnecting in {wait:g}s, "
                        f"resuming after cursor {position} (Ctrl-C stops)",
                        style="dim",
                    )
                )
                time.sleep(wait)
                retries += 1
            finally:
                stream.close()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch normally ends
    finally:
        client.close()
        if seen:
            state.err.print(Text(f"resume with --cursor {position}", style="dim"))
