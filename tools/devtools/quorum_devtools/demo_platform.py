"""The platform the demo tells its story on: started when none serves, and an admin key.

When nothing serves at the default local address the demo starts `make run`'s
supervisor (log in .local/demo-run.log) and stops it afterwards, the way Ctrl-C would.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from quorum_client import ADDRESS_ENV, API_KEY_ENV
from quorum_devtools import platform
from quorum_devtools.demo_cast import DemoError
from quorum_devtools.infra import DEFAULT_DIR

RUN_LOG = DEFAULT_DIR / "demo-run.log"
STARTUP_SECONDS = 90.0


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
