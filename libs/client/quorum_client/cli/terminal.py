"""What every `quorum` command shares: where and as whom it calls, errors, output.

Every command group (one module each in this package) builds on these, so a refused call
reads the same whichever command made it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
import typer
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console, RenderableType
from rich.text import Text

from quorum_client import render
from quorum_client.channel import ADDRESS_ENV, API_KEY_ENV, CA_FILE_ENV
from quorum_client.client import Client
from quorum_client.errors import QuorumError


@dataclass
class State:
    address: str
    api_key: str | None
    timeout: float
    tls: bool
    ca_file: str | None
    json: bool
    out: Console
    err: Console

    def client(self) -> Client:
        if self.api_key is None and API_KEY_ENV in os.environ:
            # `export QUORUM_API_KEY=$(…)` succeeds even when the command in it failed;
            # say so here rather than let the gateway answer UNAUTHENTICATED.
            self.err.print(
                Text(f"Error: {API_KEY_ENV} is set but empty.", style="bold red"),
                Text("Did the command that set it fail? Its error is above it."),
            )
            raise typer.Exit(2)
        try:
            return Client(
                self.address, self.api_key, self.timeout, tls=self.tls, ca_file=self.ca_file
            )
        except OSError as error:  # the CA file of QUORUM_TLS_CA_FILE
            self.err.print(
                Text(
                    f"Error: --ca-file / {CA_FILE_ENV}: cannot read {error.filename}.",
                    style="bold red",
                )
            )
            raise typer.Exit(2) from None


# What to do next, per status code: the gateway's sentence says what is wrong, this
# says what the person at the terminal can do about it.
HINTS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAUTHENTICATED: f"Give an API key with --api-key or {API_KEY_ENV}.",
    grpc.StatusCode.PERMISSION_DENIED: (
        "This key's role may not do that; `quorum keys whoami` shows who the key is."
    ),
    grpc.StatusCode.UNAVAILABLE: (
        "Is the platform running? `make run` starts it locally; "
        f"--address or {ADDRESS_ENV} say where the gateway listens."
    ),
    grpc.StatusCode.DEADLINE_EXCEEDED: "Raise --timeout, or check the platform's health.",
    grpc.StatusCode.ABORTED: "It changed meanwhile: read it again and retry.",
    grpc.StatusCode.UNIMPLEMENTED: "This gateway does not offer that call (yet).",
}


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    if not isinstance(state, State):  # only when a command is invoked without the app
        raise typer.BadParameter("run commands through the `quorum` app")
    return state


def print_error(state: State, error: QuorumError) -> None:
    """One clear sentence, then whatever detail the gateway sent, then a hint."""
    err = state.err
    err.print(
        Text(f"Error ({error.code.name}): ", style="bold red") + Text(error.message),
        soft_wrap=True,  # one line, however long: easy to grep and to paste
    )
    if error.field_violations:
        err.print(render.field_list(error.field_violations))
    if error.gate_report is not None:
        err.print(render.criteria_table(error.gate_report, only_unmet=True))
        if error.gate_report.weights:
            err.print(render.weights_table(error.gate_report))
    elif error.precondition_violations:
        err.print(render.preconditions_table(error.precondition_violations))
    if error.retry_delay:
        err.print(Text(f"Retry in {error.retry_delay:g}s."))
    hint = HINTS.get(error.code)
    if hint:
        err.print(Text(hint, style="dim"))


@contextmanager
def calling(ctx: typer.Context) -> Iterator[Client]:
    """A client for one command; a QuorumError becomes a message and exit code 1."""
    state = state_of(ctx)
    client = state.client()
    try:
        yield client
    except QuorumError as error:
        print_error(state, error)
        raise typer.Exit(1) from None
    finally:
        client.close()


def emit(ctx: typer.Context, message: Message, *renderables: RenderableType) -> None:
    """The answer as JSON (--json) or as the given tables and lines."""
    state = state_of(ctx)
    if state.json:
        typer.echo(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2))
        return
    for renderable in renderables:
        state.out.print(renderable)


def emit_page(
    ctx: typer.Context, page: Message, body: RenderableType, next_page_token: str
) -> None:
    """One page of an answer, then how to ask for the next one when there is one."""
    more = Text(f"More: --page-token {next_page_token}", style="dim")
    emit(ctx, page, *([body, more] if next_page_token else [body]))


_Row = TypeVar("_Row")


def emit_rows(
    ctx: typer.Context,
    answer: Message,
    rows: Sequence[_Row],
    table: Callable[[Sequence[_Row]], RenderableType],
    none: str,
) -> None:
    """A listing: its rows as a table, or the one sentence that says there are none."""
    emit(ctx, answer, table(rows) if rows else Text(none))


class _Page(Protocol):
    next_page_token: str

    def MergeFrom(self, other_msg: Any, /) -> None: ...


_PageT = TypeVar("_PageT", bound=_Page)


def every_page(fetch: Callable[[str], _PageT], page_token: str = "") -> _PageT:
    """Every page of a listing from `page_token` on, as one answer: `fetch(token)` until
    the last page. The pages' rows are appended in order; no next page token is left.
    """
    page = fetch(page_token)
    while page.next_page_token:
        more = fetch(page.next_page_token)
        page.MergeFrom(more)
        # MergeFrom keeps a non-empty token over the last page's empty one.
        page.next_page_token = more.next_page_token
    return page


def stage_name(value: str) -> str:
    # Stages are upper-case by rule; let people type `discovery`.
    return value.strip().upper()
