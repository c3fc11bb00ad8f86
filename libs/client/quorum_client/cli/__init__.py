"""`quorum`: Quorum's public API from a terminal, for PDP tools, integrations and people.

    quorum ideas submit "Export gate reports to CSV" --problem "..." --org acme --member ana
    quorum gates report IDEA
    quorum gates advance IDEA DISCOVERY
    quorum events watch --idea IDEA

Where and as whom: --address / QUORUM_ADDRESS (default 127.0.0.1:50051) and
--api-key / QUORUM_API_KEY. Answers print as tables (or JSON with --json); a refused
call prints one sentence, the offending fields or unmet criteria, and exits with 1.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from quorum_client.channel import (
    ADDRESS_ENV,
    API_KEY_ENV,
    CA_FILE_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
)
from quorum_client.cli.councils import councils_app
from quorum_client.cli.events import events_app
from quorum_client.cli.gates import gates_app
from quorum_client.cli.ideas import ideas_app
from quorum_client.cli.keys import keys_app
from quorum_client.cli.notifications import notifications_app
from quorum_client.cli.orgs import orgs_app
from quorum_client.cli.peers import peers_app
from quorum_client.cli.policies import policies_app
from quorum_client.cli.scorecards import scorecards_app
from quorum_client.cli.terminal import State

__all__ = ["app"]

app = typer.Typer(
    name="quorum",
    help="Quorum's public API: ideas, validation gates, directory, policies, keys, events.",
    no_args_is_help=True,
    add_completion=False,
)

# One module per command group, in the order `quorum --help` lists them.
app.add_typer(ideas_app, name="ideas")
app.add_typer(gates_app, name="gates")
app.add_typer(orgs_app, name="orgs")
app.add_typer(councils_app, name="councils")
app.add_typer(policies_app, name="policies")
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
app.add_typer(scorecards_app, name="scorecards")
app.add_typer(peers_app, name="peers")
app.add_typer(notifications_app, name="notifications")


@app.callback()
def main(
    ctx: typer.Context,
    address: Annotated[
        str,
        typer.Option("--address", "-a", envvar=ADDRESS_ENV, help="The gateway's host:port."),
    ] = DEFAULT_ADDRESS,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            "-k",
            envvar=API_KEY_ENV,
            help="The API key (sent as `authorization: Bearer KEY`).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(envvar="QUORUM_TIMEOUT", min=0.1, help="Seconds to wait for an answer."),
    ] = DEFAULT_TIMEOUT,
    tls: Annotated[
        bool,
        typer.Option("--tls/--plaintext", envvar="QUORUM_TLS", help="Use TLS to the gateway."),
    ] = False,
    ca_file: Annotated[
        str | None,
        typer.Option(
            "--ca-file",
            envvar=CA_FILE_ENV,
            help="A CA certificate (PEM) to check the gateway's against; implies --tls.",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print answers as JSON (events: one object per line)."),
    ] = False,
) -> None:
    """Quorum's public API: ideas, validation gates, directory, policies, keys, events."""
    ctx.obj = State(
        address=address,
        api_key=api_key or None,
        timeout=timeout,
        tls=tls,
        ca_file=ca_file or None,
        json=json_output,
        out=Console(highlight=False),
        err=Console(stderr=True, highlight=False),
    )
