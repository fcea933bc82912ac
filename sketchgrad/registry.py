"""Helpers the method registries share: checking a new entry and its one-line doc.

The registries themselves live with their stage (``denoise.DENOISE_METHODS``,
``gradients.OPERATORS``, ``normalize.NORMALIZE_METHODS``); each entry is a small
frozen dataclass carrying the method's function, its one-line doc and what the
pipeline needs to know about it (the reach in pixels a tile's halo needs, or
how the normalization is fitted).
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import ParameterError

__all__ = ["add_entry", "check_reach", "first_doc_line", "registered_doc"]


def first_doc_line(func: Callable) -> str:
    """The first line of ``func``'s docstring, without reST double backquotes ('' if none).

    Examples
    --------
    >>> def f():
    ...     '''Blur with ``sigma``.
    ...
    ...     More.'''
    >>> first_doc_line(f)
    'Blur with sigma.'
    """
    doc = (getattr(func, "__doc__", None) or "").strip()
    return doc.splitlines()[0].replace("``", "") if doc else ""


def registered_doc(name: str, func: Callable, doc: str | None) -> str:
    """The one-line doc of a method being registered: ``doc``, else ``func``'s first line."""
    if not isinstance(name, str) or not name or name != name.strip() or "," in name:
        raise ParameterError(f"name={name!r}: give a non-empty name without spaces at the "
                             "ends or commas")
    if not callable(func):
        raise ParameterError(f"func={func!r} for method {name!r} is not callable; give a "
                             "function")
    line = first_doc_line(func) if doc is None else " ".join(str(doc).split())
    return line or f"{name} (registered without a description)"


def check_reach(name: str, reach) -> int | Callable[[float], int] | None:
    """A method's declared reach: None, an int >= 0, or a function of the strength."""
    if reach is None or callable(reach):
        return reach
    if isinstance(reach, bool) or not isinstance(reach, int) or reach < 0:
        raise ParameterError(f"reach={reach!r} for method {name!r}: give the pixels a result "
                             "depends on around it (an int >= 0), a function of the strength "
                             "that returns one, or None for a method that is not local")
    return reach


def add_entry(registry: dict, name: str, entry: object, caller: str) -> None:
    """Put ``entry`` in ``registry`` under ``name``, refusing a name already taken."""
    if name in registry:
        raise ParameterError(f"{caller}: the name {name!r} is taken; choose another name "
                             f"(taken: {', '.join(registry)})")
    registry[name] = entry
