"""Sphinx configuration for the sketchgrad documentation.

Build: ``pip install ".[docs]" && python -m sphinx -W -b html docs docs/_build/html``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # for apigen
# A source checkout documents itself even when another sketchgrad is installed.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import apigen  # noqa: E402
import pages  # noqa: E402

import sketchgrad  # noqa: E402

project = "sketchgrad"
author = "sketchgrad developers"
copyright = "sketchgrad developers"
version = release = sketchgrad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "apigen.py", "README.md", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json"]
templates_path = ["_templates"]

# The API page is written from sketchgrad.__all__ at every build (docs/apigen.py).
apigen.write_api_page(HERE / "api.rst")

# The changelog and the design page come from other work; the site builds with or without them.
HAS_CHANGELOG = (ROOT / "CHANGELOG.md").is_file()
HAS_DESIGN = (HERE / "design.md").is_file()
if not HAS_CHANGELOG:
    exclude_patterns.append("changelog.md")
if not HAS_DESIGN:
    exclude_patterns.append("design.md")

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "reset_modules": ("matplotlib",),
    # the timing pages load jQuery and DataTables from a CDN: no offline site, no pages
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = "sketchgrad"
html_static_path = ["_static"]
html_favicon = "_static/favicon.png"  # sketchgrad's colour wheel, 64 px
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "light"}


def _read_in_pages(app, docname, source):
    """Show the repository's markdown pages with links that work on the site.

    The landing page's toctree (the last thing in index.rst) gets the design page and the
    changelog when they exist; the changelog page's text is CHANGELOG.md; both have their
    repository links rewritten by docs/pages.py.
    """
    if docname == root_doc:
        # the toctree depends on whether these exist: re-read the landing page when they change
        for optional in (ROOT / "CHANGELOG.md", HERE / "design.md"):
            app.env.note_dependency(str(optional))
        extra = [entry for entry, present in (("Design <design>", HAS_DESIGN),
                                              ("Changelog <changelog>", HAS_CHANGELOG))
                 if present]
        source[0] = source[0].rstrip("\n") + "\n" + "".join(f"   {name}\n" for name in extra)
    elif docname == "changelog":
        app.env.note_dependency(str(ROOT / "CHANGELOG.md"))  # an edit rebuilds the page
        text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
        source[0] = pages.site_links(text, ROOT, HERE)
    elif docname == "design":
        source[0] = pages.site_links(source[0], HERE, HERE)


def setup(app):
    app.connect("source-read", _read_in_pages)
