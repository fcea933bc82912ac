"""The API reference covers sketchgrad.__all__ exactly, and every public name is documented.

These tests read the page docs/apigen.py writes at every build, without building the site.
"""

import ast
import importlib.util
import inspect
import re
import sys
import types
from pathlib import Path

import pytest

import sketchgrad

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def apigen():
    spec = importlib.util.spec_from_file_location("sketchgrad_docs_apigen", DOCS / "apigen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_names(page: str) -> tuple[set[str], set[str]]:
    """(top-level names, names inside documented submodules) that the reST page documents."""
    top, sub = set(), set()
    current = None
    in_summary = False
    for line in page.splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)$", line):
            current = m.group(1)
        elif re.match(r"\.\. autosummary::$", line):
            in_summary = True
        elif in_summary and (m := re.match(r"   (\w+)$", line)):
            (top if current == "sketchgrad" else sub).add(
                m.group(1) if current == "sketchgrad" else f"{current}.{m.group(1)}")
        elif m := re.match(r"\.\. data:: (\w+)$", line):
            top.add(m.group(1))
            in_summary = False
        elif m := re.match(r"\.\. automodule:: sketchgrad\.(\w+)$", line):
            top.add(m.group(1))
            in_summary = False
        elif line and not line.startswith("   "):
            in_summary = False
    return top, sub


def test_api_page_lists_every_name_in_all_and_nothing_else(apigen):
    top, sub = documented_names(apigen.api_page(sketchgrad))
    assert top == set(sketchgrad.__all__)
    assert sub == {f"sketchgrad.data.{n}" for n in sketchgrad.data.__all__}
    assert not [n for n in top if n.startswith("_") and n != "__version__"]


def test_names_are_grouped_under_the_module_that_defines_them(apigen):
    page = apigen.api_page(sketchgrad)
    denoise_section = re.search(r"\(``denoise``\)\n-+\n(.*?)(?=\n[^\n]+\n-{3,}\n)", page,
                                re.S).group(1)
    assert "Cleaning scans before gradients are measured (``denoise``)\n---" in page
    assert "   denoise\n" in denoise_section and "   estimate_noise\n" in denoise_section
    assert ".. data:: DENOISE_METHODS" in denoise_section
    # a constant's #: comment is its description
    assert "Largest image accepted by default" in page.split(".. data:: DEFAULT_MAX_PIXELS")[1]
    assert apigen.defining_module(sketchgrad, "NORMALIZE_METHODS") == "normalize"
    assert apigen.defining_module(sketchgrad, "Normalizer") == "normalize"


def test_a_name_added_to_all_later_appears_without_editing_the_docs(apigen, tmp_path,
                                                                     monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""A package."""\nfrom .newstage import brand_new, NEW_TABLE, _hidden\n'
        '__all__ = ["brand_new", "NEW_TABLE"]\n')
    (package / "newstage.py").write_text(
        '"""A stage nobody has documented in the docs yet."""\n'
        "#: What the table holds.\nNEW_TABLE = {'a': 1}\n"
        'def brand_new(x):\n    """Do it.\n\n    Parameters\n    ----------\n    x : int\n    """\n'
        "def _hidden():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        page = apigen.api_page(importlib.import_module("fakepkg"))
    finally:
        for name in [m for m in sys.modules if m.startswith("fakepkg")]:
            del sys.modules[name]
    assert "A stage nobody has documented in the docs yet (``newstage``)\n---" in page
    assert "   brand_new\n" in page
    table = (".. data:: NEW_TABLE\n\n   What the table holds.\n\n"
             "   A registry: its names are ``'a'``")
    assert table in page
    assert "_hidden" not in page


def test_write_api_page_writes_the_page_once(apigen, tmp_path):
    target = tmp_path / "api.rst"
    apigen.write_api_page(target)
    first = target.stat().st_mtime_ns
    assert target.read_text(encoding="utf-8") == apigen.api_page(sketchgrad)
    apigen.write_api_page(target)  # unchanged text: the file is not rewritten
    assert target.stat().st_mtime_ns == first


def public_callables() -> list[str]:
    """Dotted names (below sketchgrad) of every public class and function."""
    found = []
    for name in sketchgrad.__all__:
        obj = getattr(sketchgrad, name)
        if isinstance(obj, types.ModuleType):
            found += [f"{name}.{sub}" for sub in obj.__all__]
        elif inspect.isclass(obj) or callable(obj):
            found.append(name)
    return found


def section(doc: str, title: str) -> bool:
    return re.search(rf"^\s*{title}\n\s*-{{{len(title)}}}\s*$", doc, re.M) is not None


@pytest.mark.parametrize("name", public_callables())
def test_every_public_callable_documents_its_parameters(name):
    obj = sketchgrad
    for part in name.split("."):
        obj = getattr(obj, part)
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    if inspect.isclass(obj):
        if issubclass(obj, Exception):
            return  # an exception's docstring says when it is raised; it has no parameters
        init_doc = (obj.__init__.__doc__ or "") if "__init__" in vars(obj) else ""
        assert section(doc, "Parameters") or section(doc, "Attributes") or section(
            inspect.cleandoc(init_doc), "Parameters"), f"{name}: no Parameters/Attributes"
    else:
        takes = [p for p in inspect.signature(obj).parameters.values()]
        if takes:
            assert section(doc, "Parameters"), f"{name}: no Parameters section"
        else:
            assert section(doc, "Returns"), f"{name}: takes nothing, says nothing it returns"


def test_section_detector_is_not_fooled():
    assert section("Do it.\n\nParameters\n----------\nx : int\n", "Parameters")
    assert not section("Do it. Parameters are below.\n", "Parameters")
    assert not section("Parameters\n-----\n", "Parameters")


@pytest.fixture(scope="module")
def pages():
    spec = importlib.util.spec_from_file_location("sketchgrad_docs_pages", DOCS / "pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_changelog_links_are_rewritten_for_the_site(pages, tmp_path):
    root = tmp_path
    docs = root / "docs"
    docs.mkdir()
    (docs / "benchmark.md").write_text("# B\n")
    (docs / "shot.png").write_bytes(b"png")
    text = ("See [the table](docs/benchmark.md#speed), [the README](README.md#the-command), "
            "[io](sketchgrad/io.py), [gone](docs/design.md), [web](https://example.org/x.md), "
            "[here](#added), ![shot](docs/shot.png \"title\") and ![lost](docs/lost.png).")
    assert pages.site_links(text, root, docs) == (
        "See [the table](benchmark.md), the README, io, gone, [web](https://example.org/x.md), "
        "[here](#added), ![shot](shot.png \"title\") and lost.")


def test_design_page_links_stay_relative_to_docs(pages, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# G\n")
    text = "[guide](guide.md) and [code](../sketchgrad/io.py)"
    assert pages.site_links(text, docs, docs) == "[guide](guide.md) and code"


EXAMPLES = sorted((DOCS.parent / "examples").glob("plot_*.py"))


def test_gallery_has_at_least_eight_examples_on_the_bundled_data():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_has_a_title_a_why_and_uses_the_sample_data(path):
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    lines = docstring.splitlines()
    assert lines[1] == "=" * len(lines[0]), "a title underlined with ="
    assert len(" ".join(lines[2:]).strip()) > 80, "sentences saying why"
    assert "sg.data." in source
    assert "plt.show()" in source
