"""The public API is annotated: every callable in ``sketchgrad.__all__``.

mypy (``python -m mypy sketchgrad``, configured in pyproject.toml) checks that
the annotations are right; this test keeps them complete, so that a new
parameter without a type cannot slip in where mypy's strict mode is not run.
"""

import inspect

import pytest

import sketchgrad

_SELF = ("self", "cls")


def _own_callables(obj):
    """(qualified name, function) for a public function, or a class's public methods."""
    if inspect.isclass(obj):
        out = []
        for name, member in vars(obj).items():
            if name.startswith("_") and name not in ("__init__", "__call__"):
                continue
            if isinstance(member, property):
                member = member.fget
            elif isinstance(member, staticmethod | classmethod):
                member = member.__func__
            elif hasattr(member, "func") and hasattr(member, "attrname"):  # cached_property
                member = member.func
            if inspect.isfunction(member):
                out.append((f"{obj.__name__}.{name}", member))
        return out
    if inspect.isfunction(obj):
        return [(obj.__name__, obj)]
    return []


def _public_callables():
    found = []
    for name in sketchgrad.__all__:
        obj = getattr(sketchgrad, name)
        if getattr(obj, "__module__", "").startswith("sketchgrad"):
            found.extend(_own_callables(obj))
    return found


PUBLIC = _public_callables()


def test_the_public_api_has_callables_to_check():
    names = {name for name, _ in PUBLIC}
    # functions, methods, constructors, dataclass constructors and properties
    assert {"process", "normalize", "ColorRamp.__init__", "ColorRamp.to_matplotlib",
            "Normalizer.__init__", "GradientField.magnitude", "render_preview",
            "Scan.__init__"} <= names
    assert len(PUBLIC) > 60


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_parameter_and_return_is_annotated(name, func):
    signature = inspect.signature(func)
    missing = [p.name for i, p in enumerate(signature.parameters.values())
               if p.annotation is inspect.Parameter.empty
               and not (i == 0 and p.name in _SELF)]
    assert not missing, f"{name}: parameters without a type: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, \
        f"{name}: no return type"


def test_the_check_sees_a_missing_annotation():
    def half(x, y: int) -> int:
        return y

    def bare(y: int):
        return y

    assert [p.name for p in inspect.signature(half).parameters.values()
            if p.annotation is inspect.Parameter.empty] == ["x"]
    assert inspect.signature(bare).return_annotation is inspect.Signature.empty
    assert _own_callables(half) == [("half", half)]


def _exempt_modules(mypy_config):
    """sketchgrad modules that a ``[[tool.mypy.overrides]]`` entry names (any setting)."""
    exempt = []
    for override in mypy_config.get("overrides", []):
        modules = override["module"]
        modules = [modules] if isinstance(modules, str) else modules
        exempt += [m for m in modules if m == "sketchgrad" or m.startswith("sketchgrad.")]
    return exempt


def test_every_module_of_the_package_is_checked_strictly():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    mypy_config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy_config["strict"] is True
    # no override may loosen the package (compare and preview had ignore_errors until 0.2)
    assert _exempt_modules(mypy_config) == []
    old = {"overrides": [{"module": ["sketchgrad.compare", "sketchgrad.preview"],
                          "ignore_errors": True},
                         {"module": ["pywt", "pywt.*", "scipy"], "ignore_missing_imports": True},
                         {"module": "sketchgrad.*", "disallow_untyped_defs": False}]}
    assert _exempt_modules(old) == ["sketchgrad.compare", "sketchgrad.preview", "sketchgrad.*"]


def _all_functions(module):
    """Every function and method (private ones too) defined in ``module``."""
    found = []
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            found.append((name, obj))
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if isinstance(member, property):
                    member = member.fget
                elif isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                # not the methods a decorator writes (a dataclass's __eq__): no source here
                if inspect.isfunction(member) and \
                        member.__code__.co_filename == module.__file__:
                    found.append((f"{name}.{attr}", member))
    return found


@pytest.mark.parametrize(("module_name", "private"), [
    ("sketchgrad.compare", {"_tiles_ramp", "_sheet", "_variant"}),
    ("sketchgrad.preview", {"_panel_picture", "_Sheet.render", "Thumbnails._stage",
                            "PreviewSheet.finish"})])
def test_every_function_of_the_sheets_is_annotated(module_name, private):
    import importlib

    functions = _all_functions(importlib.import_module(module_name))
    assert private <= {name for name, _ in functions}
    unannotated = []
    for name, func in functions:
        signature = inspect.signature(func)
        if (any(p.annotation is inspect.Parameter.empty
                for i, p in enumerate(signature.parameters.values())
                if not (i == 0 and p.name in _SELF))
                or signature.return_annotation is inspect.Signature.empty):
            unannotated.append(name)
    assert unannotated == [], f"{module_name}: functions not fully annotated: {unannotated}"


def test_the_package_ships_its_types_marker():
    from importlib.resources import files

    assert files("sketchgrad").joinpath("py.typed").is_file()


# What a user's type checker sees: the precise array types of the main entry points. The
# last line is wrong on purpose, so the check is seen to fail where a type is not the one
# asserted.
_USAGE = """
from typing import Any, assert_type

import numpy as np
from matplotlib.colors import ListedColormap
from numpy.typing import NDArray

import sketchgrad
from sketchgrad import ColorRamp, GradientField, Result, Scan
from sketchgrad.io import NativeImage

scan = sketchgrad.load_scan("page.png")
assert_type(scan, Scan)
# float32, or the file's samples read tile by tile with load_scan(dtype="native")
assert_type(scan.image, NDArray[np.float32] | NativeImage)
assert_type(sketchgrad.as_image(np.zeros((2, 2), np.uint8)), NDArray[np.float32])
result = sketchgrad.process(scan)
assert_type(result, Result)
assert_type(result.hsv, NDArray[np.float32] | None)
field = sketchgrad.gradient_field([[0.0, 1.0], [0.0, 1.0]])
assert_type(field, GradientField)
assert_type(field.magnitude, NDArray[np.float32])
assert_type(field.orientation, NDArray[np.float32])
assert_type(sketchgrad.denoise(scan.image, "median"), NDArray[np.float32])
assert_type(sketchgrad.normalize(field.magnitude, "robust", lower=2.0),
            NDArray[np.floating[Any]])
ramp = ColorRamp(["#000000", "navy", (1.0, 1.0, 1.0)], space="oklab")
assert_type(ramp(field.magnitude), NDArray[np.float32])
assert_type(ramp(field.magnitude, dtype=np.uint8), NDArray[np.uint8])
assert_type(ramp(field.magnitude, dtype=np.uint16), NDArray[np.uint16])
assert_type(ramp.to_matplotlib(), ListedColormap)
assert_type(sketchgrad.sketch_effect(scan.image), NDArray[np.float32])
assert_type(sketchgrad.as_image([[0.5]]), NDArray[np.float64])
"""


@pytest.mark.slow
def test_a_type_checker_sees_the_precise_types(tmp_path):
    api = pytest.importorskip("mypy.api")
    from pathlib import Path

    usage = tmp_path / "usage.py"
    usage.write_text(_USAGE)
    wrong = len(_USAGE.splitlines())  # the last line
    root = Path(__file__).resolve().parents[1]
    # only the snippet's own errors: the package is checked by `mypy sketchgrad` in CI
    out, err, status = api.run([str(usage), "--strict", "--follow-imports=silent",
                                "--config-file", str(root / "pyproject.toml"),
                                "--cache-dir", str(tmp_path / "cache")])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 1, out
    assert f"usage.py:{wrong}: error: Expression is of type" in errors[0]
