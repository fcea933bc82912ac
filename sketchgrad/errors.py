"""The errors a user of sketchgrad can cause.

Every failure that comes from the caller's input (a file, a parameter, an
output folder) raises a subclass of :class:`SketchgradError` whose message
names the file or parameter, says what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

__all__ = [
    "SketchgradError",
    "ScanError",
    "ParameterError",
    "OutputError",
    "choose",
]

_Entry = TypeVar("_Entry")


class SketchgradError(Exception):
    """Base class of every error a user of sketchgrad can cause."""


class ScanError(SketchgradError):
    """An input scan is missing, unreadable, unsupported, corrupt or too large."""


class ParameterError(SketchgradError, ValueError):
    """A parameter has an invalid value (also a :class:`ValueError`)."""


class OutputError(SketchgradError, OSError):
    """An output cannot be written (folder not writable, disk full, ...)."""


def choose(registry: Mapping[str, _Entry], name: str, parameter: str) -> _Entry:
    """Look up ``name`` in a method registry, or raise a helpful error.

    Parameters
    ----------
    registry : dict
        Mapping of method name to implementation.
    name : str
        The name the caller asked for.
    parameter : str
        The parameter's name, used in the error message.

    Returns
    -------
    object
        ``registry[name]``.

    Raises
    ------
    ParameterError
        If ``name`` is not a key of ``registry``; the message lists the valid names.

    Examples
    --------
    >>> choose({"a": 1, "b": 2}, "b", "method")
    2
    >>> choose({"a": 1}, "z", "method")
    Traceback (most recent call last):
    ...
    sketchgrad.errors.ParameterError: method='z' is not known; choose one of: 'a'
    """
    if isinstance(name, str) and name in registry:
        return registry[name]
    raise ParameterError(f"{parameter}={name!r} is not known; choose one of: {_names(registry)}")


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)
