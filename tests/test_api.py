"""The public API: the README's "Use it as a library" example runs, using only the names
that ``sim.__all__`` lists, and every listed name exists."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
from conftest import ROOT

import sim


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it as a library", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_every_public_name_exists() -> None:
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    assert set(dir(sim)) >= set(sim.__all__)


def test_the_readme_example_uses_only_public_names() -> None:
    tree = ast.parse(readme_example())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "sim"
    }
    assert used, "the example uses the package"
    assert used <= set(sim.__all__), sorted(used - set(sim.__all__))
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert not {m for m in modules if m.startswith("sim.")}, "only `import sim`"


@pytest.mark.slow
def test_the_readme_example_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "infusion.beds = 0" in out.stdout  # the refusal's one-line message
    assert "Traceback" not in out.stderr


def test_no_public_name_is_shadowed_by_a_subpackage() -> None:
    """Importing ``sim.x.y`` sets the attribute ``sim.x``: a public name may not be the
    name of a subpackage, or it would turn into the module once that is imported."""
    packages = {p.name for p in (ROOT / "sim").iterdir() if (p / "__init__.py").exists()}
    assert not packages & set(sim.__all__)
