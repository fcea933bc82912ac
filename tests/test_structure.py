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


def _fresh(code: str, tmp_path: Path) -> list[str]:
    """Run ``code`` in a new interpreter (imports happen once per process); its printed words."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    return done.stdout.split()


def test_importing_the_command_defers_what_a_run_does_not_need(tmp_path):
    """``import sketchgrad.cli`` loads no module only some paths use, evaluates no ramp table.

    The package imports its modules on first use: the command's module alone loads
    neither NumPy, OpenCV nor Pillow (so ``main`` can set their thread count first).
    The pipeline's modules load no tempfile (atomic writes), hashlib (a batch's shared
    scale) nor numpy.ma (through np.percentile); the named ramps' look-up tables are
    evaluated when first read. (Counted beyond what the libraries load themselves:
    NumPy 1.x imports hashlib and numpy.ma, Pillow 10 tempfile.)
    """
    code = ("import sys, importlib, sketchgrad.cli\n"
            "print(*[m for m in ('numpy', 'cv2', 'PIL') if m in sys.modules] or ['none'])\n"
            "import numpy, cv2, PIL.Image\n"
            "watched = ('tempfile', 'hashlib', 'numpy.ma')\n"
            "before = {m for m in watched if m in sys.modules}\n"
            "import sketchgrad.color as color, sketchgrad.pipeline, sketchgrad.streaming\n"
            "print(*[m for m in watched if m in sys.modules and m not in before] "
            "or ['none'])\n"
            "print(sum(r._lut is not None for r in color.RAMPS.values()))\n"
            "lut = color.RAMPS['sepia'].lut\n"
            "print(lut.shape, lut is color.RAMPS['sepia'].lut)\n"
            f"for m in {MODULES!r}:\n"
            "    importlib.import_module('sketchgrad.' + m)\n"
            "import sketchgrad\n"
            "print(callable(sketchgrad.denoise), sketchgrad.denoise.__module__)\n")
    assert _fresh(code, tmp_path) == ["none", "none", "0", "(4097,", "3)", "True",
                                      "True", "sketchgrad.denoise"]


def test_a_run_imports_only_the_modules_its_outputs_need(tmp_path):
    """The preview, its process, the relief, the stroke directions and compare are imported
    for the outputs that need them only: a run's start-up is most of a one-scan run."""
    from PIL import Image

    Image.new("L", (40, 30), 200).save(tmp_path / "page.png")
    optional = ("compare", "preview", "renderer", "sketch", "strokes")
    code = ("import sys\n"
            "from sketchgrad.cli import main\n"
            f"optional = {optional!r}\n"
            "def loaded():\n"
            "    return [m for m in optional if 'sketchgrad.' + m in sys.modules] or ['none']\n"
            "assert main(['run', 'page.png', '-o', 'out', '--outputs', 'hsv,magnitude', "
            "'-q']) == 0\n"
            "print(*loaded())\n"
            "assert main(['run', 'page.png', '-o', 'out', '--outputs', 'sketch,flow', "
            "'-q']) == 0\n"
            "print(*loaded())\n")
    assert _fresh(code, tmp_path) == ["none", "sketch", "strokes"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "page.flow.png", "page.hsv.png", "page.magnitude.png", "page.sketch.png"]


def test_loading_a_png_imports_only_pillows_png_plugin(tmp_path):
    """A PNG (or JPEG) needs its own Pillow plugin only; other files get every plugin."""
    from PIL import Image

    Image.new("L", (4, 3), 200).save(tmp_path / "page.png")
    Image.new("L", (4, 3), 200).save(tmp_path / "page.bmp")
    code = ("import sys\n"
            "from sketchgrad.io import load_scan\n"
            "def plugins():\n"
            "    return sorted(m[4:] for m in sys.modules if m.startswith('PIL.') and "
            "m.endswith('ImagePlugin'))\n"
            "print(load_scan('page.png').image.shape, *plugins())\n"
            "print(load_scan('page.bmp').meta.format, *plugins())\n")
    words = _fresh(code, tmp_path)
    assert words[:3] == ["(3,", "4)", "PngImagePlugin"]
    assert words[3] == "BMP"
    assert {"BmpImagePlugin", "GifImagePlugin", "JpegImagePlugin", "PngImagePlugin",
            "TiffImagePlugin"} <= set(words[4:])


@pytest.mark.parametrize("first", ["import sketchgrad.denoise", "import sketchgrad.normalize",
                                   "from sketchgrad.denoise import estimate_noise",
                                   "import sketchgrad.pipeline", "import sketchgrad",
                                   "from sketchgrad import denoise, normalize"])
def test_denoise_and_normalize_stay_the_functions_whatever_is_imported_first(first, tmp_path):
    """``sketchgrad.denoise`` and ``sketchgrad.normalize`` are the functions, not the modules
    of those names, whichever import comes first and after every submodule is imported;
    the other submodules are attributes as they load, and every public name resolves."""
    code = (f"{first}\n"
            "import importlib, types, sketchgrad\n"
            f"for m in {MODULES!r}:\n"
            "    importlib.import_module('sketchgrad.' + m)\n"
            "from sketchgrad import denoise, normalize\n"
            "print(sketchgrad.denoise is denoise, sketchgrad.normalize is normalize,\n"
            "      denoise.__module__, normalize.__module__, sketchgrad.io.__name__,\n"
            "      isinstance(sys.modules['sketchgrad.denoise'], types.ModuleType),\n"
            "      all(not isinstance(getattr(sketchgrad, n), types.ModuleType) or n == 'data'\n"
            "          for n in sketchgrad.__all__))\n")
    assert _fresh("import sys\n" + code, tmp_path) == [
        "True", "True", "sketchgrad.denoise", "sketchgrad.normalize", "sketchgrad.io",
        "True", "True"]


def test_a_missing_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'sketchgrad' has no attribute 'nonsense'"):
        sketchgrad.nonsense  # noqa: B018


def test_every_module_can_be_the_first_one_imported(tmp_path):
    """Modules load on first use, so any of them may be the first one a program imports:
    each must load in a fresh interpreter without the package having loaded the others
    (streaming first once failed: pipeline re-exported its ``process_to_files`` while
    streaming was half-loaded)."""
    code = ("import importlib, subprocess, sys\n"
            f"for m in {[m for m in MODULES if m != '__main__']!r}:\n"
            "    r = subprocess.run([sys.executable, '-c', f'import sketchgrad.{m}'],\n"
            "                       capture_output=True, text=True)\n"
            "    print(f'{m}:{r.returncode}')\n")
    results = _fresh(code, tmp_path)
    assert len(results) == len(MODULES) - 1  # all but __main__
    assert [r for r in results if not r.endswith(":0")] == []
    from sketchgrad.pipeline import process_to_files
    from sketchgrad.streaming import process_to_files as streamed

    assert process_to_files is streamed is sketchgrad.process_to_files
