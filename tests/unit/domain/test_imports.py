"""The pure domain imports only the standard library (and itself): no I/O can hide in a rule.

The other dependency rules (api → app → store → domain, workers never import the gRPC edge) are
import-linter contracts in pyproject.toml, checked by `make lint`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "server" / "domain"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_domain_imports_only_the_standard_library() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) > 5
    outside = {
        (path.name, name)
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("server.domain")
    }
    assert outside == set()
