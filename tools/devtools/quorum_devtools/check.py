"""`make test`: every check the project makes, with its servers started and stopped.

Steps: generated contracts current, buf lint, buf breaking (against what this change
builds on), ruff, mypy, then pytest against a
real broker and MongoDB. When KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI are set they
are used as they are; otherwise local servers are started for this run alone (a
scratch folder, free ports) and stopped at the end.
The exit code is non-zero when any step failed; every step runs regardless, so one
run reports every problem.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quorum_devtools.infra import ROOT, InfraError, LocalInfra

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _step(
    name: str, command: list[str], env: dict[str, str] | None = None
) -> tuple[str, bool, float]:
    print(f"\n=== {name}: {' '.join(command)}", flush=True)
    began = time.monotonic()
    ok = subprocess.run(command, cwd=ROOT, env=env).returncode == 0
    return name, ok, time.monotonic() - began


def _git(*args: str) -> str | None:
    found = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


def breaking_base() -> str | None:
    """The commit the contracts must stay compatible with: where this branch left main,
    or on main itself the commit before (QUORUM_BUF_AGAINST names another; "none" skips)."""
    chosen = os.environ.get("QUORUM_BUF_AGAINST")
    if chosen:
        return None if chosen == "none" else chosen
    head = _git("rev-parse", "HEAD")
    base = _git("merge-base", "HEAD", "main")
    if head and base and base != head:
        return base
    return _git("rev-parse", "--verify", "--quiet", "HEAD~1")


def _buf_breaking() -> tuple[str, bool, float]:
    base = breaking_base()
    if base is None:
        print("\n=== buf breaking: no earlier commit to compare with; skipped", flush=True)
        return "buf breaking", True, 0.0
    buf = str(ROOT / "node_modules" / ".bin" / "buf")
    return _step("buf breaking", [buf, "breaking", "--against", f".git#ref={base}"])


def main() -> int:
    began = time.monotonic()
    results = [
        _step("contracts", [sys.executable, "-m", "quorum_devtools.protogen", "--check"]),
        _step("buf lint", [str(ROOT / "node_modules" / ".bin" / "buf"), "lint"]),
        _buf_breaking(),
        _step("ruff", [str(BIN / "ruff"), "check", "."]),
        _step("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        _step("mypy", [str(BIN / "mypy")]),
    ]
    env = dict(os.environ)
    started: list[str] = []
    # A broker and MongoDB of the test run's own, on free ports, so `make test` never
    # disturbs (or depends on) a `make run` going on at the same time.
    scratch = tempfile.TemporaryDirectory(prefix="quorum-check-")
    infra = LocalInfra(Path(scratch.name), _free_port(), _free_port())
    if not (env.get("KAFKA_BOOTSTRAP_SERVERS") and env.get("MONGODB_URI")):
        print("\n=== infra: local Kafka and MongoDB", flush=True)
        try:
            started = infra.up()
        except InfraError as error:
            print(f"infra: {error}", file=sys.stderr)
            results.append(("infra", False, 0.0))
        else:
            env.update(infra.env())
            print(f"using {infra.bootstrap_servers} and {infra.mongodb_uri} (for this run only)")
    try:
        if all(name != "infra" for name, _, _ in results):
            results.append(_step("pytest", [sys.executable, "-m", "pytest", *sys.argv[1:]], env))
    finally:
        if started:
            print(f"\n=== stopping {', '.join(started)}", flush=True)
            infra.down(only=started)
        scratch.cleanup()
    print("\n=== summary")
    for name, ok, seconds in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name:12} {seconds:6.1f}s")
    failed = [name for name, ok, _ in results if not ok]
    print(
        f"  {'FAILED: ' + ', '.join(failed) if failed else 'all passed'}"
        f" in {time.monotonic() - began:.0f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
