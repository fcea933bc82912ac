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


def test_the_package_ships_its_types_marker():
    from importlib.resources import files

    assert files("sketchgrad").joinpath("py.typed").is_file()
