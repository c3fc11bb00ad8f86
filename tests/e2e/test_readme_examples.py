"""The README's shell and Python examples, run literally in a fresh shell.

One bash process with an empty environment (no virtualenv, no `uv`, the system PATH),
in the checkout's root, runs every ```bash block in order and every ```python block as
a file with `.venv/bin/python`, against a platform of its own (tests/e2e/conftest.py's
`running`). The only differences from a newcomer's shell after `make run`: the
platform's addresses. The README's `127.0.0.1:50051` is replaced by the private
gateway's address, and the shell is given `QUORUM_ADDRESS`, `QUORUM_HTTP`, `MONGODB_URI`,
`GATEWAY_MONGODB_DATABASE`, `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_TOPIC_PREFIX` as `make run`'s
platform has them by default, so the test
never talks to a `make run` (or another test) on the same machine.

Conventions (`#>` promises, commands that may fail, blocks not run):
tests/support/readme.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from quorum_devtools import platform
from support.readme import Block, blocks, normalize

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEFAULT_GATEWAY = f"127.0.0.1:{platform.DEFAULT_PORTS['gateway']}"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
MARK = "::quorum-readme-block::"
FAILED = "::quorum-readme-failed::"


def _runnable(block: Block, path: str) -> bool:
    if block.not_run:
        return False
    return all(shutil.which(tool, path=path) for tool in block.needs)


def _script(runnable: list[Block], gateway: str, scratch: Path) -> str:
    # The ERR trap names every command that fails; the test decides which may.
    lines = [
        f'trap \'printf "\\n{FAILED} %s\\n" "$(printf %s "$BASH_COMMAND" | tr "\\n" " ")"\' ERR',
    ]
    for number, block in enumerate(runnable):
        text = block.text.replace(DEFAULT_GATEWAY, gateway)
        lines.append(f"echo '{MARK}'")
        if block.language == "bash":
            lines.append(text)
        else:
            example = scratch / f"readme_example_{number}.py"
            example.write_text(text)
            lines.append(f".venv/bin/python {example}")
    lines.append(f"echo '{MARK}'")
    return "\n".join(lines) + "\n"


def _path() -> str:
    # grpcurl is not on PyPI or npm: the grpcurl examples run where one is installed.
    extra = [str(Path(found).parent) for found in [shutil.which("grpcurl")] if found]
    return ":".join([*extra, SYSTEM_PATH])


@pytest.mark.timeout(900)
# As `make run` has it, so the README's webhook to its local receiver is accepted.
@pytest.mark.platform_env(NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")
def test_the_readme_examples_work_as_written(running: platform.Platform, tmp_path: Path) -> None:
    path = _path()
    everything = blocks(README)
    runnable = [b for b in everything if _runnable(b, path)]
    assert any(b.language == "python" for b in runnable)
    assert sum(b.language == "bash" for b in runnable) >= 2
    env = running.env()
    shell_env = {
        "HOME": str(tmp_path),
        "PATH": path,
        "LANG": "C.UTF-8",
        "QUORUM_ADDRESS": running.address("gateway"),
        "QUORUM_HTTP": running.http_url,
        "MONGODB_URI": env["MONGODB_URI"],
        "GATEWAY_MONGODB_DATABASE": env["GATEWAY_MONGODB_DATABASE"],
        # For the "Events on Kafka" example, which reads this platform's topics.
        "KAFKA_BOOTSTRAP_SERVERS": env["KAFKA_BOOTSTRAP_SERVERS"],
        "KAFKA_TOPIC_PREFIX": env["KAFKA_TOPIC_PREFIX"],
    }
    script = tmp_path / "readme.sh"
    script.write_text(_script(runnable, running.address("gateway"), tmp_path))
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", str(script)],
        cwd=ROOT,
        env=shell_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=840,
        check=False,
    )
    outputs = result.stdout.split(MARK + "\n")[1:-1]
    assert len(outputs) == len(runnable), result.stdout
    for block, output in zip(runnable, outputs, strict=True):
        where = f"README.md line {block.line}:\n{output}"
        allowed = block.commands_that_may_fail()
        for line in output.splitlines():
            if line.startswith(FAILED):
                command = normalize(line[len(FAILED) :])
                assert command in allowed, f"`{command}` failed; {where}"
        said = " ".join(output.split())
        for promise in block.promises:
            assert " ".join(promise.split()) in said, f"promised {promise!r}; {where}"
    assert result.returncode == 0, result.stdout
