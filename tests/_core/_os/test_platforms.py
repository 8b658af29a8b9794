"""Every platform module offers exactly the names of _stub (Python has no compiler to check it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mmap_io._core._os as os_layer

OS_DIR = Path(os_layer.__file__).parent
PLATFORMS = ["_linux", "_darwin", "_windows", "_stub"]


def _exports(module: str) -> tuple[set[str], set[str]]:
    """(names in __all__, names the module defines or imports at top level)."""
    tree = ast.parse((OS_DIR / f"{module}.py").read_text())
    declared: set[str] = set()
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    defined.add(target.id)
                    if target.id == "__all__":
                        declared = set(ast.literal_eval(node.value))
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            defined.update(alias.asname or alias.name for alias in node.names)
    return declared, defined


@pytest.mark.parametrize("module", PLATFORMS)
def test_platform_module_offers_every_stub_name(module: str) -> None:
    stub, _ = _exports("_stub")
    _, defined = _exports(module)
    assert stub <= defined


def test_the_package_re_exports_the_stub_names() -> None:
    stub, _ = _exports("_stub")
    assert set(os_layer.__all__) == stub
    assert all(callable(getattr(os_layer, n)) or n.isupper() for n in stub)


def test_only_the_os_layer_tests_the_platform() -> None:
    src = Path(os_layer.__file__).parents[2]
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "sys.platform" in p.read_text() and OS_DIR not in p.parents
    ]
    assert offenders == []
