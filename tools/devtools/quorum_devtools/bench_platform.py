"""The bench's own Quorum: processes (optionally under pyinstrument), a tenant, callers.

Everything the bench starts is registered in one `Processes` so the caller can stop it
all, whatever happened (when the pipeline has finished a piece of work is bench_probe's).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform

if TYPE_CHECKING:
    from quorum.gateway.v1.gateway_pb2_grpc import (
        AccessServiceAsyncStub,
        DirectoryServiceAsyncStub,
        EventsServiceAsyncStub,
        IdeasServiceAsyncStub,
    )

ORGANIZATIONS = 24
SEGMENTS = 4
# Equal revenue: with ARR_LINEAR weighting three endorsers hold a third each, under
# the DISCOVERY gate's 50% cap, so the third distinct organization opens the gate.
ARR = 10_000_000
# The reference pipeline cleans up its topic and databases on SIGTERM; give it time.
PATIENCE_SECONDS = 30.0


class BenchError(Exception):
    pass


@dataclass
class Processes:
    """Every child process the bench started, stopped in reverse order by `stop_all`."""

    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop_all(self) -> dict[str, int]:
        for process in self.others:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.others:
            try:
                process.wait(timeout=PATIENCE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.others.clear()
        codes = platform.stop(self.services) if self.services else {}
        self.services = {}
        return codes


def start_services(
    settings: platform.Platform,
    processes: Processes,
    logs: Path,
    profile: Iterable[str] = (),
    profiles: Path | None = None,
) -> None:
    """Start the four services, logging to files; `profile` ones under pyinstrument."""
    logs.mkdir(parents=True, exist_ok=True)
    profiled = set(profile)
    if not profiled:
        outputs = {s: (logs / f"{s}.log").open("wb") for s in platform.SERVICES}
        try:
            processes.services = platform.start(settings, output=outputs)
        finally:
            for handle in outputs.values():
                handle.close()  # the children hold their own descriptors
        return
    assert profiles is not None
    profiles.mkdir(parents=True, exist_ok=True)
    env = settings.env()
    for service in platform.SERVICES:
        command = [sys.executable, "-m", f"quorum_{service}"]
        if service in profiled:
            # A pyisession keeps every sample; text and HTML are rendered from it later.
            command = [
                sys.executable, "-m", "pyinstrument",
                "-r", "pyisession", "-o", str(profiles / f"{service}.pyisession"),
                "-m", f"quorum_{service}",
            ]  # fmt: skip
        with (logs / f"{service}.log").open("wb") as log:
            processes.services[service] = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops them in order
            )


def render_profiles(profiles: Path) -> list[Path]:
    """Text and HTML renderings of each pyisession the profiled services wrote."""
    written = []
    for session in sorted(profiles.glob("*.pyisession")):
        for renderer, suffix in (("text", ".txt"), ("html", ".html")):
            target = session.with_suffix(suffix)
            # Library frames stay visible: the cost is often inside pymongo or grpc.
            command = [
                sys.executable, "-m", "pyinstrument", f"--load={session}",
                "-r", renderer, "-o", str(target),
                "--show-all", "-p", "processor_options.filter_threshold=0.005",
            ]  # fmt: skip
            subprocess.run(command, check=False, capture_output=True)
            if target.exists():
                written.append(target)
    return written


def start_echo(response_file: Path, processes: Processes, event_loop: str) -> str:
    """The bare comparison server (bench_echo) in its own process; its address.

    It runs on the services' event loop (EVENT_LOOP), so the comparison is the
    gateway's own work, not a faster loop's.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "quorum_devtools.bench_echo",
        "--port", str(port), "--response", str(response_file), "--event-loop", event_loop,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
    )
    processes.others.append(process)
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise BenchError(f"the echo server did not start (exit code {process.poll()})")
    return f"127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


@dataclass
class Caller:
    """One API key on its own connection (one client of the platform)."""

    channel: grpc.aio.Channel
    metadata: tuple[tuple[str, str], ...]

    @classmethod
    def open(cls, address: str, secret: str) -> Caller:
        # A local subchannel pool gives each caller its own HTTP/2 connection, as
        # separate client processes would have; by default grpc shares one.
        channel = grpc.aio.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        return cls(channel, (("authorization", f"Bearer {secret}"),))

    @property
    def ideas(self) -> IdeasServiceAsyncStub:
        return gateway_pb2_grpc.IdeasServiceStub(self.channel)

    @property
    def events(self) -> EventsServiceAsyncStub:
        return gateway_pb2_grpc.EventsServiceStub(self.channel)

    @property
    def access(self) -> AccessServiceAsyncStub:
        return gateway_pb2_grpc.AccessServiceStub(self.channel)

    @property
    def directory(self) -> DirectoryServiceAsyncStub:
        return gateway_pb2_grpc.DirectoryServiceStub(self.channel)


def organization_id(index: int) -> str:
    return f"org-{index % ORGANIZATIONS:02d}"


@dataclass
class Tenant:
    tenant_id: str
    admin: Caller
    callers: list[Caller]
    members: int = 0

    def next_member(self, organization: int) -> domain_pb2.MemberRef:
        """A member nobody used yet of a directory organization, so every call changes the idea."""
        return self.new_member(organization_id(organization))

    def new_member(self, organization: str) -> domain_pb2.MemberRef:
        """A member nobody used yet of any organization (it need not be in the directory)."""
        self.members += 1
        return domain_pb2.MemberRef(
            organization_id=organization, member_id=f"member-{self.members}"
        )

    async def submit(self, caller: Caller, organization: int, number: int) -> str:
        answer = await caller.ideas.SubmitIdea(
            gateway_pb2.SubmitIdeaRequest(
                title=f"Bench idea {number}: export gate reports",
                problem=f"Portfolio board {number} reviews gate decisions in spreadsheets.",
                product_area="reporting",
                source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
                submitted_by=self.next_member(organization),
                importance=domain_pb2.IMPORTANCE_IMPORTANT,
            ),
            metadata=caller.metadata,
        )
        return answer.idea.id

    async def endorse(
        self,
        caller: Caller,
        idea_id: str,
        organization: int,
        member: domain_pb2.MemberRef | None = None,
    ) -> bool:
        member = member or self.next_member(organization)
        return (await self.endorse_as(caller, idea_id, member)).changed

    async def endorse_as(
        self, caller: Caller, idea_id: str, member: domain_pb2.MemberRef
    ) -> gateway_pb2.EndorseIdeaResponse:
        return await caller.ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea_id, member=member, importance=domain_pb2.IMPORTANCE_IMPORTANT
            ),
            metadata=caller.metadata,
        )

    async def withdraw(self, caller: Caller, idea_id: str, member: domain_pb2.MemberRef) -> None:
        await caller.ideas.WithdrawEndorsement(
            gateway_pb2.WithdrawEndorsementRequest(idea_id=idea_id, member=member),
            metadata=caller.metadata,
        )

    async def close(self) -> None:
        for caller in [self.admin, *self.callers]:
            await caller.channel.close()


async def bootstrap_secret(env: dict[str, str], tenant_id: str) -> str:
    """The tenant's first admin key, made the way an operator makes it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quorum_gateway.bootstrap",
        "--tenant",
        tenant_id,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        raise BenchError(f"bootstrap failed ({process.returncode}): {err.decode().strip()}")
    return out.decode().strip()


async def create_tenant(settings: platform.Platform, tenant_id: str, callers: int) -> Tenant:
    """A tenant with a directory of equal customers and `callers` product-manager keys."""
    address = settings.address("gateway")
    admin = Caller.open(address, await bootstrap_secret(settings.env(), tenant_id))
    for index in range(ORGANIZATIONS):
        await admin.directory.UpsertOrganization(
            gateway_pb2.UpsertOrganizationRequest(
                organization=domain_pb2.Organization(
                    organization_id=organization_id(index),
                    name=f"Customer {index}",
                    segment=f"segment-{index % SEGMENTS}",
                    arr=ARR,
                    relationship=domain_pb2.RELATIONSHIP_ACTIVE,
                )
            ),
            metadata=admin.metadata,
        )
    secrets = []
    for index in range(callers):
        created = await admin.access.CreateApiKey(
            gateway_pb2.CreateApiKeyRequest(
                principal_id=f"bench-pm-{index}",
                display_name=f"Bench PM {index}",
                role=gateway_pb2.ROLE_PRODUCT_MANAGER,
            ),
            metadata=admin.metadata,
        )
        secrets.append(created.secret)
    return Tenant(tenant_id, admin, [Caller.open(address, s) for s in secrets])
