"""Markdown pages written for the repository, made fit for the site.

CHANGELOG.md (at the top level) and docs/design.md are written to be read on the repository,
so their relative links point at files (``docs/benchmark.md``, ``README.md#the-command``,
``../sketchgrad/io.py``). On the site a link to a page of the site must name that page, and a
link to anything else has nowhere to go; with warnings as errors a single such link would
break the build. :func:`site_links` rewrites them: a link to a page of the site becomes a link
to that page, an image in the repository is shown, and any other relative link keeps its text
and loses its target. Web links and in-page anchors are left alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# [text](target) and ![alt](target); the target has no spaces (an optional "title" may follow)
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*([^)\s]+)(\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_SOURCES = (".md", ".rst")


def site_links(text: str, written_in: Path, docs: Path) -> str:
    """Rewrite the relative links of a markdown text written in ``written_in`` for ``docs/``.

    Parameters
    ----------
    text : str
        The markdown.
    written_in : pathlib.Path
        The folder the text's links are relative to (the repository root for CHANGELOG.md).
    docs : pathlib.Path
        The documentation's source folder, where the text is shown.

    Returns
    -------
    str
        The markdown with each relative link pointing into ``docs`` or unlinked.

    Examples
    --------
    >>> from pathlib import Path
    >>> docs = Path(__file__).resolve().parent
    >>> site_links("[bench](docs/benchmark.md#table), [code](sketchgrad/io.py)", docs.parent, docs)
    '[bench](benchmark.md), code'
    """

    def rewrite(match: re.Match) -> str:
        bang, label, target, title = match.group(1), match.group(2), match.group(3), \
            match.group(4) or ""
        if _SCHEME.match(target) or target.startswith(("#", "/")):
            return match.group(0)
        path_part = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (written_in / path_part).resolve()
        inside = resolved.is_relative_to(docs.resolve())
        relative = Path(os.path.relpath(resolved, docs.resolve())).as_posix()
        if bang:
            if resolved.is_file():
                return f"![{label}]({relative}{title})"
            return label  # a missing picture: its alt text
        if inside and resolved.is_file() and resolved.suffix in _SOURCES:
            # a page of the site; its anchors are the repository's, so link the page itself
            return f"[{label}]({relative})"
        return label

    return _LINK.sub(rewrite, text)
