"""Generate Python code (messages, stubs, .pyi) from protos/ into OUT_DIR, and the descriptor set that
server reflection serves: with source info (the protos' comments, for `grpcurl describe`) and imports."""

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR_SET = "rollout/descriptors.binpb"  # read by server/api/reflection.py


def main(out_dir: str) -> int:
    out = Path(out_dir)
    (out / DESCRIPTOR_SET).parent.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{ROOT / 'protos'}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--descriptor_set_out={out / DESCRIPTOR_SET}",
        "--include_source_info",
        "--include_imports",
        *protos,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    for package in {Path(p).parent for p in protos}:
        for part in [package, *package.parents][:-1]:
            (out / part / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
