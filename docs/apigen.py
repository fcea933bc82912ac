"""Write the API reference page from ``sketchgrad.__all__``.

``conf.py`` calls :func:`write_api_page` at every build, so a name another engineer adds to
``__all__`` appears in the reference without editing the docs, and a name that is not in
``__all__`` never does. ``tests/test_docs.py`` checks the page text against ``__all__``
without building the site.

Names are grouped by the module that defines them, in the order of the data flow; a module the
order does not know yet goes at the end, so new modules need no edit here either.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

# The data flow, so the reference reads in the order a scan is processed.
MODULE_ORDER = (
    "io", "denoise", "gradients", "channels", "normalize", "color", "sketch", "strokes",
    "pipeline", "tiling", "streaming", "preview", "compare", "batch", "inputs", "provenance",
    "runners", "config", "png", "errors",
)

TITLE = "API reference"


def _submodules(package: types.ModuleType) -> list[types.ModuleType]:
    found = []
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        found.append(importlib.import_module(info.name))
    return found


def defining_module(package: types.ModuleType, name: str) -> str:
    """Short name of the submodule that defines ``package.name`` ("" for the package itself)."""
    obj = getattr(package, name)
    if isinstance(obj, types.ModuleType):
        return ""
    module = getattr(obj, "__module__", None) if (inspect.isclass(obj) or callable(obj)) else None
    if isinstance(module, str) and module.startswith(package.__name__ + "."):
        return module.split(".")[1]
    # constants carry no __module__: the submodule whose __all__ (else namespace) holds the object
    candidates = [m for m in _submodules(package) if m.__dict__.get(name) is obj]
    for m in candidates:
        if name in getattr(m, "__all__", ()):
            return m.__name__.split(".")[1]
    return candidates[0].__name__.split(".")[1] if candidates else ""


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _first_line(module: types.ModuleType) -> str:
    doc = inspect.getdoc(module) or module.__name__
    return doc.strip().splitlines()[0].rstrip(".")


def _short(line: str) -> str:
    """A heading from a module's first docstring line: up to its first colon, comma or dash."""
    return re.split(r":|,| \(| - | -> |;", line, maxsplit=1)[0].strip()


def _comment_above(module: types.ModuleType, name: str) -> str:
    """The ``#:`` comment lines right above ``name = ...`` (or ``name: ...``) in the module."""
    try:
        lines = inspect.getsource(module).splitlines()
    except (OSError, TypeError):  # no source (a compiled install): no comment
        return ""
    for i, line in enumerate(lines):
        if line.startswith((f"{name} =", f"{name}:")):
            comment = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#:"):
                comment.insert(0, lines[j][2:].strip())
                j -= 1
            return " ".join(comment)
    return ""


def _constant_text(package: types.ModuleType, module: str, name: str) -> str:
    """The ``#:`` comment above the constant in its module, then a description of its value."""
    obj = getattr(package, name)
    source = importlib.import_module(f"{package.__name__}.{module}") if module else package
    comment = _comment_above(source, name)
    if isinstance(obj, dict):
        extra = "A registry: its names are " + ", ".join(f"``{k!r}``" for k in obj) + "."
    elif isinstance(obj, tuple | list | frozenset | set):
        extra = "Value: " + ", ".join(f"``{v!r}``" for v in obj) + "."
    else:
        extra = f"Value: ``{obj!r}``."
    return f"{comment}\n\n   {extra}" if comment else extra


def api_names(package: types.ModuleType) -> list[str]:
    """Public names the page documents: ``package.__all__``, in its order."""
    return list(package.__all__)


def api_page(package: types.ModuleType) -> str:
    """The reStructuredText of the API reference for every name in ``package.__all__``."""
    groups: dict[str, list[str]] = {}
    modules: list[str] = []
    for name in api_names(package):
        if isinstance(getattr(package, name), types.ModuleType):
            modules.append(name)
        else:
            groups.setdefault(defining_module(package, name), []).append(name)
    order = {m: i for i, m in enumerate(MODULE_ORDER)}
    # known modules in data-flow order, then new ones alphabetically, the package's own last
    ordered = sorted(groups, key=lambda m: (2 if not m else m not in order, order.get(m, 0), m))

    out = [
        ".. This file is written by docs/apigen.py at every build; edit that, not this.\n",
        _heading(TITLE, "="),
        f"Every public name of ``{package.__name__}`` (its ``__all__``), grouped by the module",
        "that holds it, in the order of the data flow. Import them from the package:",
        f"``import {package.__name__} as sg`` then ``sg.load_scan(...)``.\n",
        f".. currentmodule:: {package.__name__}\n",
    ]
    for module in ordered:
        names = groups[module]
        if module:
            line = _first_line(importlib.import_module(f"{package.__name__}.{module}"))
            out.append(_heading(f"{_short(line)} (``{module}``)", "-"))
            out.append(f"{line}.\n")
        else:
            out.append(_heading("The package", "-"))
        documented = [n for n in names if inspect.isclass(getattr(package, n))
                      or callable(getattr(package, n))]
        constants = [n for n in names if n not in documented]
        if documented:
            out.append(".. autosummary::\n   :toctree: generated/\n")
            out.extend(f"   {n}" for n in sorted(documented, key=str.lower))
            out.append("")
        for n in sorted(constants, key=str.lower):
            out.append(f".. data:: {n}\n\n   {_constant_text(package, module, n)}\n")
    for name in modules:
        sub = getattr(package, name)
        out.append(_heading(f"{_short(_first_line(sub))} (``{sub.__name__}``)", "-"))
        out.append(f".. automodule:: {sub.__name__}\n   :no-members:\n")
        out.append(f".. currentmodule:: {sub.__name__}\n")
        out.append(".. autosummary::\n   :toctree: generated/\n")
        out.extend(f"   {n}" for n in getattr(sub, "__all__", ()))
        out.append("")
        out.append(f".. currentmodule:: {package.__name__}\n")
    return "\n".join(out) + "\n"


def write_api_page(path: str | Path, package_name: str = "sketchgrad") -> Path:
    """Write :func:`api_page` to ``path`` (only when it changed, so Sphinx rebuilds stay quick)."""
    path = Path(path)
    text = api_page(importlib.import_module(package_name))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
