"""Generate the Python contracts package from `proto/`, or check it is current.

`make proto` writes `libs/contracts/quorum/` (with the HTTP API's OpenAPI document,
quorum/gateway/v1/openapi.json, and the Kafka events' AsyncAPI document,
quorum/events/v1/asyncapi.json); `make test` runs `--check`, which generates into a
scratch folder and fails when the committed code or either document differs.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.rpc import status_pb2

from quorum_devtools import asyncapi, openapi

ROOT = Path(__file__).resolve().parents[3]
PROTO_DIR = ROOT / "proto"
PACKAGE_DIR = ROOT / "libs" / "contracts"
GENERATED = PACKAGE_DIR / "quorum"


def _protoc() -> list[str]:
    """grpcio-tools' protoc over proto/, with the well-known types it ships."""
    well_known = str(resources.files("grpc_tools") / "_proto")
    return [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{well_known}"]


def generate(out_dir: Path) -> None:
    """Run protoc (from grpcio-tools) with the mypy stub plugins into out_dir."""
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    out = str(out_dir)
    bin_dir = Path(sys.executable).parent
    cmd = [
        *_protoc(),
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_DIR)
    # Regular packages (not namespace ones) so mypy and hatch see one tree.
    for folder in [out_dir / "quorum", *(out_dir / "quorum").rglob("*")]:
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (out_dir / "quorum" / "py.typed").touch()
    files = described(protos)
    (out_dir / "quorum" / "gateway" / "v1" / "openapi.json").write_text(openapi.render(files))
    (out_dir / "quorum" / "events" / "v1" / "asyncapi.json").write_text(asyncapi.render(files))


def described(protos: list[str]) -> descriptor_pb2.FileDescriptorSet:
    """The descriptors (with comments) of the same protos, for the API documents."""
    # googleapis-common-protos ships google/rpc/status.proto beside its generated code.
    googleapis = Path(status_pb2.__file__).parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = Path(tmp) / "descriptors.pb"
        cmd = [
            *_protoc(),
            f"-I{googleapis}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={descriptors}",
            *protos,
            "google/rpc/status.proto",
        ]
        subprocess.run(cmd, check=True, cwd=PROTO_DIR)
        return descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes())


def _differences(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"only in committed: {n}" for n in cmp.left_only]
    found += [f"missing from committed: {n}" for n in cmp.right_only]
    for name in cmp.common_files:
        if (left / name).read_bytes() != (right / name).read_bytes():
            found.append(f"differs: {(left / name).relative_to(ROOT)}")
    for sub in cmp.common_dirs:
        found += _differences(left / sub, right / sub)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            stale = _differences(GENERATED, Path(tmp) / "quorum")
        if stale:
            print("generated contracts are stale; run `make proto` and commit:", file=sys.stderr)
            for line in stale:
                print(f"  {line}", file=sys.stderr)
            return 1
        print("generated contracts are current")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(Path(tmp) / "quorum", GENERATED)
    print(f"generated {GENERATED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
