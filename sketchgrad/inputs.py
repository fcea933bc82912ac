"""Finding a batch's inputs (files, folders, glob patterns) and naming each one's outputs.

:func:`find_inputs` expands what the user gave into image files (by ending or
first bytes, :func:`sketchgrad.io.looks_like_image`); :func:`plan_outputs`
gives each input its ``OUTDIR/<sub/folder>/<stem>.<kind>.png`` names,
mirroring the folders given, without two inputs ever sharing a name.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from .io import looks_like_image

__all__ = ["FoundInput", "InputProblem", "PlannedInput", "discover", "find_inputs",
           "plan_outputs"]

_GLOB_CHARS = frozenset("*?[")


# Named tuples, not frozen dataclasses: the command defines them at every start, and a
# frozen dataclass costs about a millisecond to define.
class FoundInput(NamedTuple):
    """One input file, and the folder it was found under (outputs mirror the path below it)."""

    path: Path
    base: Path | None


class InputProblem(NamedTuple):
    """Something given that yields no input (an empty folder, a pattern matching nothing)."""

    input: str
    error: str


class PlannedInput(NamedTuple):
    """One input and its output files, in the order of the output kinds."""

    found: FoundInput
    outputs: tuple[Path, ...]


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _search(folder: Path, exclude: Path | None) -> list[Path]:
    """Image files under ``folder``, sorted; hidden entries and ``exclude`` left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _inside(rootp / d, exclude))
        for name in sorted(files):
            f = rootp / name
            if name.startswith(".") or _inside(f, exclude):
                continue
            if f.is_file() and looks_like_image(f):
                found.append(f)
    return found


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard."""
    parts = Path(pattern).parts
    base = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def discover(paths: Iterable[str | os.PathLike[str]], exclude: Path | None
             ) -> tuple[list[FoundInput], list[InputProblem]]:
    """The inputs found (each once, in order) and what yielded none; ``exclude``: OUTDIR."""
    found: list[FoundInput] = []
    problems: list[InputProblem] = []
    seen: set[Path] = set()

    def add(f: Path, base: Path | None) -> None:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            found.append(FoundInput(f, base))

    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = _search(p, exclude)
            if not files:
                problems.append(InputProblem(str(p), "no image files found in this folder "
                                             "(files inside the output folder are not taken)"))
            for f in files:
                add(f, p)
        elif p.exists() or not (_GLOB_CHARS & set(str(arg))):
            add(p, None)  # a missing file fails later with load_scan's message
        else:
            base = _glob_base(str(arg))
            matches = sorted(glob.glob(str(arg), recursive=True))
            taken = 0
            for m in map(Path, matches):
                if m.is_dir():
                    for f in _search(m, exclude):
                        add(f, base)
                        taken += 1
                elif m.is_file() and not _inside(m, exclude) and not m.name.startswith("."):
                    add(m, base)
                    taken += 1
            if not taken:
                problems.append(InputProblem(str(arg), "no file matches this pattern; check "
                                             "the pattern and quote it for the shell"))
    return found, problems


def find_inputs(paths: Iterable[str | os.PathLike[str]], *,
                exclude: str | os.PathLike[str] | None = None) -> list[Path]:
    """Expand files, folders (searched recursively) and glob patterns into inputs.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files (taken as given), folders (image files found by ending or first
        bytes; hidden entries skipped) and glob patterns (``**`` recurses).
    exclude : str or path-like, optional
        A folder whose files are never taken from folders or patterns (the
        output folder).

    Returns
    -------
    list of Path
        Each input once, folders' files sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.PNG", "a.jpg", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [p.name for p in find_inputs([d])]
    ['a.jpg', 'b.PNG']
    """
    ex = Path(exclude).resolve() if exclude is not None else None
    return [f.path for f in discover(paths, ex)[0]]


def plan_outputs(found: list[FoundInput], outdir: Path, kinds: Sequence[str]
                 ) -> tuple[list[PlannedInput], list[InputProblem]]:
    """Output paths per input: ``<stem>.<kind>.png`` mirroring the folder structure.

    Stems that clash in one output folder (``page1.png`` and ``page1.jpg``) keep
    the file's ending (``page1.png.hsv.png``); names still clashing are problems.
    """
    def rel_parent(f: FoundInput) -> Path:
        if f.base is None:
            return Path()
        try:
            return f.path.parent.relative_to(f.base)
        except ValueError:
            return Path()

    def key(f: FoundInput, name: str) -> str:
        return str(rel_parent(f) / name).casefold()

    stem_count: dict[str, int] = {}
    for f in found:
        k = key(f, f.path.stem)
        stem_count[k] = stem_count.get(k, 0) + 1
    names: list[str] = []
    for f in found:
        clash = stem_count[key(f, f.path.stem)] > 1
        names.append(f.path.name if clash else f.path.stem)
    owner: dict[str, int] = {}
    planned, problems = [], []
    for i, (f, name) in enumerate(zip(found, names, strict=True)):
        k = key(f, name)
        if k in owner:
            other = found[owner[k]].path
            problems.append(InputProblem(str(f.path), (
                f"its outputs would have the same names as those of {other}; give the folders "
                "that hold them instead of the files, or run them with different -o")))
            continue
        owner[k] = i
        folder = outdir / rel_parent(f)
        planned.append(PlannedInput(f, tuple(folder / f"{name}.{kind}.png" for kind in kinds)))
    return planned, problems
