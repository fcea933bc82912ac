"""The ``sketchgrad`` command: argument parsing only; the work is in the library.

``sketchgrad run INPUT... -o OUTDIR``, ``sketchgrad methods``,
``sketchgrad compare INPUT --what normalize -o sheet.png``, ``sketchgrad --version``.
Exit status: 0 all done, 1 some inputs failed, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings

from .errors import SketchgradError

__all__ = ["main"]


def _names(registry: dict) -> str:
    return ", ".join(registry)


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    from .denoise import DENOISE_METHODS
    from .gradients import OPERATORS
    from .io import DEFAULT_MAX_PIXELS
    from .normalize import NORMALIZE_METHODS

    p.add_argument("--config", metavar="FILE.toml",
                   help="read settings from a TOML file (keys as the long options, e.g. "
                   "denoise = \"median\"); options given here override it")
    p.add_argument("--config-from", metavar="RESULT.png",
                   help="use the settings recorded in a PNG sketchgrad wrote")
    p.add_argument("--denoise", metavar="METHOD",
                   help=f"one of {_names(DENOISE_METHODS)} (default: gaussian)")
    p.add_argument("--strength", type=float, metavar="S",
                   help="denoise strength (default: estimated from each scan's noise)")
    p.add_argument("--operator", metavar="NAME",
                   help=f"gradient operator, one of {_names(OPERATORS)} (default: sobel)")
    p.add_argument("--normalize", metavar="METHOD",
                   help=f"magnitude normalization, one of {_names(NORMALIZE_METHODS)} "
                   "(default: exposure; minmax is the classic)")
    p.add_argument("--color", metavar="SPEC",
                   help="hsv (default), a ramp \"ramp:#1b1b3a,#f0a030,#fffbe6\" or a colormap "
                   "name such as viridis (see `sketchgrad methods`)")
    p.add_argument("--color-target", metavar="WHAT",
                   help="what a ramp colours: magnitude (default) or tone")
    p.add_argument("--axial", action=argparse.BooleanOptionalAction, default=None,
                   help="hsv colour: hue from the stroke's direction modulo 180 degrees, so "
                   "both sides of a stroke share one colour")
    p.add_argument("--flatten-background", action=argparse.BooleanOptionalAction,
                   default=None, help="divide out uneven lighting before denoising "
                   "(default: when the scan's lighting is uneven, as in phone photos)")
    p.add_argument("--tile-size", type=int, metavar="N",
                   help="process in N x N tiles (0: never; default: tile large scans)")
    p.add_argument("--max-pixels", type=int, metavar="N",
                   help="refuse scans with more pixels than N, before decoding "
                   f"(0: no limit; default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=None,
                   help="redo inputs whose outputs are up to date; replace files "
                   "sketchgrad did not write")
    p.add_argument("--debug", action=argparse.BooleanOptionalAction, default=None,
                   help="show tracebacks")


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .compare import COMPARE_WHAT
    from .pipeline import OUTPUT_KINDS
    from .png import DEFAULT_COMPRESSION

    parser = argparse.ArgumentParser(
        prog="sketchgrad",
        description="Turn scanned drawings into gradient fields, colour and relief.")
    parser.add_argument("--version", action="version", version=f"sketchgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="process scans (files, folders, glob patterns) into OUTDIR",
        description="Process scans into OUTDIR/<stem>.<kind>.png, mirroring the folders "
        "given. Inputs whose outputs are up to date are skipped.")
    run.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="scan files, folders (searched recursively) or quoted glob patterns")
    run.add_argument("-o", "--outdir", help="folder for the outputs (created if needed)")
    _add_pipeline_options(run)
    run.add_argument("--outputs", metavar="KINDS",
                     help=f"comma list of {','.join(OUTPUT_KINDS)} (default: all)")
    run.add_argument("--normalize-scope", metavar="SCOPE",
                     help="image (default): each scan on its own scale; batch: one scale "
                     "from statistics of every input, so faint pages stay faint")
    run.add_argument("--workers", type=int, metavar="N",
                     help=f"worker processes (default: the cores, {os.cpu_count()})")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on a Dask distributed cluster, e.g. tcp://scheduler-host:8786 "
                     "(needs sketchgrad[distributed] and paths the workers can reach)")
    run.add_argument("--png-compression", type=int, metavar="LEVEL",
                     help=f"zlib level 0-9 (default {DEFAULT_COMPRESSION}: fast; gradient "
                     "images gain little from higher levels)")
    run.add_argument("--json", action=argparse.BooleanOptionalAction, default=None,
                     help="print a JSON list of {input, outputs, status, error, seconds}")
    run.add_argument("--quiet", "-q", action=argparse.BooleanOptionalAction, default=None,
                     help="print only errors")

    sub.add_parser("methods", help="list denoise methods, operators, normalizations, "
                   "colour spaces and ramps")

    cmp_ = sub.add_parser("compare", help="a contact sheet comparing methods on one scan")
    cmp_.add_argument("input", metavar="INPUT", help="a scan")
    cmp_.add_argument("--what", required=True, choices=tuple(COMPARE_WHAT),
                      help="the stage whose methods are shown side by side")
    cmp_.add_argument("-o", "--output", required=True, metavar="SHEET.png",
                      help="the PNG to write")
    _add_pipeline_options(cmp_)
    return parser


def _flag_settings(args: argparse.Namespace) -> dict:
    from .config import PIPELINE_KEYS, RUN_KEYS, check_settings

    given = {key: getattr(args, key, None) for key in (*PIPELINE_KEYS, *RUN_KEYS)}
    # checked as a config file's settings: the same comma-list rule for --outputs
    return check_settings({k: v for k, v in given.items() if v is not None}, "command line")


def _settings(args: argparse.Namespace) -> dict:
    from .config import load_config_file, merge_settings, settings_from_png

    recorded = settings_from_png(args.config_from) if args.config_from else {}
    from_file = load_config_file(args.config) if args.config else {}
    settings = merge_settings(recorded, from_file, _flag_settings(args))
    args.debug = bool(settings.get("debug"))  # --debug may come from the config file
    return settings


def _pipeline_config(settings: dict):
    from .config import PIPELINE_KEYS
    from .pipeline import PipelineConfig

    return PipelineConfig.from_dict({k: v for k, v in settings.items() if k in PIPELINE_KEYS})


def _as_flags(message: str) -> str:
    """Library messages name parameters (``max_pixels=``); the command's user knows flags."""
    import re

    from .config import PIPELINE_KEYS, RUN_KEYS

    names = "|".join(sorted((*PIPELINE_KEYS, *RUN_KEYS), key=len, reverse=True))

    def flag(match: re.Match) -> str:
        name, value = "--" + match[1].replace("_", "-"), match[2]
        if name == "--outdir":
            name = "-o"
        if value in ("True", "False"):  # overwrite=True -> --overwrite
            return name if value == "True" else "--no-" + name[2:]
        return name + (" " + value if value else "")

    return re.sub(rf"\b({names})=(True\b|False\b|[^\s),;:]?)", flag, message)


def _error(message: str) -> None:
    print(f"sketchgrad: error: {_as_flags(message)}", file=sys.stderr)


class _Progress:
    """Progress on stderr: a tqdm bar on a terminal, else one line per input."""

    def __init__(self, quiet: bool, debug: bool) -> None:
        self.quiet = quiet
        self.debug = debug
        self.bar = None
        self.tty = sys.stderr.isatty()

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def start(self, stage: str, total: int) -> None:
        self.close()
        if stage == "statistics" and not self.quiet and not (self.tty and total > 1):
            self._print(f"sketchgrad: measuring {total} input(s) for one shared scale "
                        "(--normalize-scope batch)")
        if self.tty and not self.quiet and total > 1:
            from tqdm import tqdm

            desc = "statistics" if stage == "statistics" else "sketchgrad"
            self.bar = tqdm(total=total, desc=desc, unit="scan", file=sys.stderr,
                            dynamic_ncols=True)

    def measured(self, path: str) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def done(self, outcome) -> None:
        if outcome.status == "failed":
            self._print(f"sketchgrad: error: {outcome.input}: {_as_flags(outcome.error)}")
            if self.debug and outcome.traceback:
                self._print(outcome.traceback.rstrip())
        elif not self.quiet and self.bar is None:
            what = "done" if outcome.status == "ok" else "skipped (up to date)"
            self._print(f"{what}: {outcome.input} ({outcome.seconds:.2f} s)")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run(args: argparse.Namespace) -> int:
    from .batch import run_batch
    from .png import DEFAULT_COMPRESSION

    settings = _settings(args)
    config = _pipeline_config(settings)
    outdir = settings.get("outdir")
    if not outdir:
        raise _Usage("-o OUTDIR is required (or outdir in the --config file)")
    quiet, debug = bool(settings.get("quiet")), bool(settings.get("debug"))
    progress = _Progress(quiet, debug)
    start = time.perf_counter()
    try:
        outcomes = run_batch(
            args.inputs, outdir, config,
            compression=settings.get("png_compression", DEFAULT_COMPRESSION),
            workers=settings.get("workers"), overwrite=bool(settings.get("overwrite")),
            normalize_scope=settings.get("normalize_scope", "image"),
            scheduler=settings.get("scheduler"), max_pixels=settings.get("max_pixels"),
            on_start=progress.start, on_measured=progress.measured, on_done=progress.done)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    if settings.get("json"):
        json.dump([o.to_dict() for o in outcomes], sys.stdout, indent=2)
        print()
    if not quiet:
        print(f"sketchgrad: {counts['ok']} done, {counts['skipped']} skipped, "
              f"{counts['failed']} failed in {seconds:.1f} s", file=sys.stderr)
    return 1 if counts["failed"] else 0


def _methods() -> int:
    from .color import COLOR_SPACE_NOTES, RAMPS
    from .denoise import DENOISE_METHODS
    from .gradients import OPERATORS
    from .normalize import NORMALIZE_METHODS

    def first_line(func) -> str:
        return func.__doc__.strip().splitlines()[0].replace("``", "")

    sections = [
        ("denoise methods (--denoise)", {k: first_line(f) for k, f in DENOISE_METHODS.items()}),
        ("gradient operators (--operator)", {k: first_line(f) for k, f in OPERATORS.items()}),
        ("normalization methods (--normalize)",
         {k: first_line(f) for k, f in NORMALIZE_METHODS.items()}),
        ("ramp colour spaces (ColorRamp(space=...))", COLOR_SPACE_NOTES),
        ("named ramps (--color NAME)",
         {k: " -> ".join(_hex(c) for c in r.stops) + f" (in {r.space})"
          for k, r in RAMPS.items()}),
    ]
    for title, entries in sections:
        print(f"{title}:")
        width = max(map(len, entries))
        for name, line in entries.items():
            print(f"  {name:<{width}}  {line}")
        print()
    print('colours (--color): hsv, a named ramp, "ramp:#hex,#hex,...", or any matplotlib '
          "colormap name")
    return 0


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(float(v) * 255):02x}" for v in rgb)


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .batch import _pixel_limit, _reason
    from .compare import render_comparison
    from .config import provenance_text
    from .io import load_scan

    settings = _settings(args)
    config = _pipeline_config(settings)
    dest = Path(args.output)
    if dest.exists() and not settings.get("overwrite"):
        raise _Usage(f"{dest}: exists; choose another -o or use --overwrite")
    try:
        scan = load_scan(args.input, mode="gray",
                         max_pixels=_pixel_limit(settings.get("max_pixels")))
        render_comparison(scan, args.what, dest, config=config, text=provenance_text(config))
    except SketchgradError as exc:
        _error(f"{args.input}: {_reason(exc, args.input)}")
        if settings.get("debug"):
            traceback.print_exc()
        return 1
    if not settings.get("quiet"):
        print(f"sketchgrad: wrote {dest}", file=sys.stderr)
    return 0


class _Usage(Exception):
    """A usage error found after parsing (exit status 2)."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 all done, 1 some inputs failed, 2 usage error, 130 interrupted.

    Examples
    --------
    >>> main(["methods"])  # doctest: +ELLIPSIS
    denoise methods (--denoise):
    ...
    0
    """
    # The command reports each input on one line: Pillow's notes on odd metadata in a
    # file that still decodes, and matplotlib's note that a title character (a file
    # name in another script) has no glyph in the font, would only add noise.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    warnings.filterwarnings("ignore", message=r"Glyph .* missing from font", category=UserWarning)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return int(exc.code or 0)
    try:
        if args.command == "methods":
            return _methods()
        if args.command == "compare":
            return _compare(args)
        return _run(args)
    except KeyboardInterrupt:
        print("sketchgrad: interrupted; temporary files removed", file=sys.stderr)
        return 130
    except (SketchgradError, _Usage) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        _error(str(exc))
        return 2
    except Exception as exc:  # a bug: one line unless --debug
        if getattr(args, "debug", False):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); run again with --debug "
               "and report the traceback")
        return 1
