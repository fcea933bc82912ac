"""The package's shape: private names stay in their module; each module says what it holds."""

import ast
import importlib
from pathlib import Path

import pytest

import sketchgrad

PACKAGE = Path(sketchgrad.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def private_uses(source: str, module: str) -> list[str]:
    """``from .x import _y`` and ``x._y`` where x is another module of the package."""
    tree = ast.parse(source)
    found = []
    aliases = {}  # local name -> package module it refers to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            inside = node.level > 0 or (node.module or "").startswith("sketchgrad")
            if not inside:
                continue
            target = (node.module or "").removeprefix("sketchgrad").lstrip(".")
            for alias in node.names:
                if not target:  # from . import pipeline
                    aliases[alias.asname or alias.name] = alias.name
                elif alias.name.startswith("_") and target != module:
                    found.append(f"from .{target} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sketchgrad."):
                    aliases[alias.asname or alias.name] = alias.name.split(".", 1)[1]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id, module) != module):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_the_checker_finds_both_forms():
    source = ("from .png import _quantize\nfrom . import gradients\nfrom .io import Scan\n"
              "x = gradients._FOOTPRINT\nimport sketchgrad.color as c\ny = c._HEX\n")
    assert private_uses(source, "pipeline") == ["from .png import _quantize",
                                                "gradients._FOOTPRINT", "c._HEX"]
    assert private_uses("from .png import _quantize\n", "png") == []  # its own names


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_another_modules_private_names(module):
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    assert private_uses(source, module) == []


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_in_one_sentence_what_it_holds(module):
    doc = importlib.import_module(f"sketchgrad.{module}").__doc__
    assert doc, module
    first = doc.strip().splitlines()[0]
    assert first.endswith(".") and len(first) <= 100, first
