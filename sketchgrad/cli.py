"""The ``sketchgrad`` command: argument parsing only; the work is in the library.

``sketchgrad run INPUT... -o OUTDIR``, ``sketchgrad methods``,
``sketchgrad compare INPUT --what normalize -o sheet.png``, ``sketchgrad --version``.
``-`` as INPUT reads a scan from standard input and ``-o -`` writes the PNG to
standard output (``compare``; ``run`` with one input and one output kind).
Exit status: 0 done, 1 some inputs failed, 2 usage error, 3 internal error,
130 interrupted (``EXIT_*`` below, and ``sketchgrad --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, NoReturn, cast

from . import ahead
from .errors import SketchgradError

if TYPE_CHECKING:
    from .batch import Outcome
    from .normalize import Normalizer
    from .pipeline import PipelineConfig
    from .renderer import PreviewRenderer

__all__ = ["main", "console", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERNAL",
           "EXIT_INTERRUPTED"]

#: Every input done (processed, or skipped as up to date).
EXIT_OK = 0
#: Some inputs failed; each is named on stderr and the others were done.
EXIT_FAILED = 1
#: A usage error (bad option, setting or ``-``), reported before any work.
EXIT_USAGE = 2
#: A bug in sketchgrad outside the per-input work.
EXIT_INTERNAL = 3
#: Interrupted (Ctrl-C): the workers stopped, temporary files removed.
EXIT_INTERRUPTED = 130

#: The file name meaning standard input (INPUT) or standard output (``-o``).
STDIO = "-"

_EXIT_STATUS = f"""\
exit status:
  {EXIT_OK}    done: every input processed or up to date
  {EXIT_FAILED}    some inputs failed (each named on stderr); the others were done
  {EXIT_USAGE}    usage error (an option, setting or "-" misused); reported before any work
  {EXIT_INTERNAL}    internal error: a bug in sketchgrad; run again with --debug and report it
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); temporary files removed"""

_EXAMPLES = {
    "run": ("sketchgrad run scans/ -o results/ --workers 2",
            "sketchgrad run - -o - --outputs hsv < page.png > page.hsv.png"),
    "methods": ("sketchgrad methods",
                "sketchgrad methods | grep -A8 'named ramps'"),
    "compare": ("sketchgrad compare page.png --what normalize -o sheet.png",
                "cat page.jpg | sketchgrad compare - --what ramp -o - > ramps.png"),
}


_ENVIRONMENT = """\
environment:
  SKETCHGRAD_PREVIEW_PROCESS=0  draw previews in this process; by default (on Linux, when the
                                scans are processed here) a second process imports matplotlib
                                and draws them while the scan is computed
  SKETCHGRAD_DECODE_AHEAD=0     decode the one scan of a run when it is needed; by default a
                                PNG or JPEG INPUT is decoded while sketchgrad is imported"""

#: Environment variable that turns decoding ahead off (``0``, ``no``, ``off``, ``false``).
AHEAD_ENV_VAR = "SKETCHGRAD_DECODE_AHEAD"


def _epilog(*commands: str) -> str:
    lines = ["examples:"]
    for command in commands:
        lines += [f"  {example}" for example in _EXAMPLES[command]]
    environment = _ENVIRONMENT + "\n\n" if commands == ("run",) else ""
    return "\n".join(lines) + "\n\n" + environment + _EXIT_STATUS


def _names(registry: Iterable[str]) -> str:
    return ", ".join(registry)


class _Names(NamedTuple):
    """What the parser's help and choices show from the library's registries and defaults.

    A named tuple, not a dataclass: the command builds it on every start, and a
    dataclass costs a millisecond or two to define.
    """

    denoise: str = ""
    operators: str = ""
    normalize: str = ""
    max_pixels: str = ""
    outputs: str = ""
    default_outputs: str = ""
    compression: str = ""
    compare: tuple[str, ...] | None = None
    version: str = ""

    @classmethod
    def of_library(cls) -> _Names:
        from . import __version__
        from .compare import COMPARE_WHAT
        from .denoise import DENOISE_METHODS
        from .gradients import OPERATORS
        from .io import DEFAULT_MAX_PIXELS
        from .normalize import NORMALIZE_METHODS
        from .pipeline import DEFAULT_OUTPUTS, OUTPUT_KINDS
        from .png import DEFAULT_COMPRESSION

        return cls(denoise=_names(DENOISE_METHODS), operators=_names(OPERATORS),
                   normalize=_names(NORMALIZE_METHODS), max_pixels=f"{DEFAULT_MAX_PIXELS:,}",
                   outputs=",".join(OUTPUT_KINDS), default_outputs=",".join(DEFAULT_OUTPUTS),
                   compression=str(DEFAULT_COMPRESSION), compare=tuple(COMPARE_WHAT),
                   version=__version__)


def _add_pipeline_options(p: argparse.ArgumentParser, names: _Names) -> None:
    p.add_argument("--config", metavar="FILE.toml",
                   help="read settings from a TOML file (keys as the long options, e.g. "
                   "denoise = \"median\"); options given here override it")
    p.add_argument("--config-from", metavar="RESULT.png",
                   help="use the settings recorded in a PNG sketchgrad wrote")
    p.add_argument("--denoise", metavar="METHOD",
                   help=f"one of {names.denoise} (default: gaussian)")
    p.add_argument("--strength", type=float, metavar="S",
                   help="denoise strength (default: estimated from each scan's noise)")
    p.add_argument("--operator", metavar="NAME",
                   help=f"gradient operator, one of {names.operators} (default: sobel)")
    p.add_argument("--normalize", metavar="METHOD",
                   help=f"magnitude normalization, one of {names.normalize} "
                   "(default: exposure; minmax is the classic)")
    p.add_argument("--color", metavar="SPEC",
                   help="hsv (default), stroke (each edge in its stroke's colour), a ramp "
                   "\"ramp:#1b1b3a,#f0a030,#fffbe6\" or a colormap name such as viridis "
                   "(see `sketchgrad methods`)")
    p.add_argument("--color-target", metavar="WHAT",
                   help="what a ramp colours: magnitude (default) or tone")
    p.add_argument("--channels", metavar="WHICH",
                   help="auto (default): colour scans in colour, grey ones in grey (measured "
                   "per scan); gray: always the BT.601 luma; rgb: always the three channels")
    p.add_argument("--keep-hue", action=argparse.BooleanOptionalAction, default=None,
                   help="with --color-target tone: keep the drawing's own hues, the ramp "
                   "sets the lightness")
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
                   f"(0: no limit; default {names.max_pixels})")
    p.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=None,
                   help="redo inputs whose outputs are up to date; replace files "
                   "sketchgrad did not write")
    p.add_argument("--debug", action=argparse.BooleanOptionalAction, default=None,
                   help="show tracebacks")


def _build_parser(names: _Names | None = None) -> argparse.ArgumentParser:
    """The command's parser; ``names`` default to the library's (which imports it)."""
    names = _Names.of_library() if names is None else names
    parser = argparse.ArgumentParser(
        prog="sketchgrad",
        description="Turn scanned drawings into gradient fields, colour and relief.",
        epilog=_epilog("run", "methods", "compare"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sketchgrad {names.version}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="process scans (files, folders, glob patterns) into OUTDIR",
        description="Process scans into OUTDIR/<stem>.<kind>.png, mirroring the folders "
        "given. Inputs whose outputs are up to date are skipped.",
        epilog=_epilog("run"), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="scan files, folders (searched recursively) or quoted glob "
                     "patterns; - reads one scan from standard input (with -o -)")
    run.add_argument("-o", "--outdir",
                     help="folder for the outputs (created if needed); - writes the PNG to "
                     "standard output (one INPUT, one --outputs kind)")
    run.add_argument("--dry-run", action="store_true",
                     help="list what would be written and skipped, and why; write nothing")
    _add_pipeline_options(run, names)
    run.add_argument("--outputs", metavar="KINDS",
                     help=f"comma list of {names.outputs} (default: "
                     f"{names.default_outputs}; flow: the stroke directions as a picture)")
    run.add_argument("--normalize-scope", metavar="SCOPE",
                     help="image (default): each scan on its own scale; batch: one scale "
                     "from statistics of every input, so faint pages stay faint")
    run.add_argument("--workers", type=int, metavar="N",
                     help="worker processes (default: one per core)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on a Dask distributed cluster, e.g. tcp://scheduler-host:8786 "
                     "(needs sketchgrad[distributed] and paths the workers can reach)")
    run.add_argument("--png-compression", type=int, metavar="LEVEL",
                     help=f"zlib level 0-9 (default {names.compression}: fast; gradient "
                     "images gain little from higher levels)")
    run.add_argument("--json", action=argparse.BooleanOptionalAction, default=None,
                     help="print a JSON list of {input, outputs, status, error, seconds, "
                     "strokes}")
    run.add_argument("--quiet", "-q", action=argparse.BooleanOptionalAction, default=None,
                     help="print only errors")

    sub.add_parser("methods", help="list denoise methods, operators, normalizations, "
                   "colour spaces and ramps", epilog=_epilog("methods"),
                   formatter_class=argparse.RawDescriptionHelpFormatter)

    cmp_ = sub.add_parser("compare", help="a contact sheet comparing methods on one scan",
                          epilog=_epilog("compare"),
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp_.add_argument("input", metavar="INPUT", help="a scan; - reads it from standard input")
    cmp_.add_argument("--what", required=True, choices=names.compare,
                      help="the stage whose methods are shown side by side")
    cmp_.add_argument("-o", "--output", required=True, metavar="SHEET.png",
                      help="the PNG to write; - writes it to standard output")
    _add_pipeline_options(cmp_, names)
    return parser


def _flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    from .config import PIPELINE_KEYS, RUN_KEYS, check_settings

    given = {key: getattr(args, key, None) for key in (*PIPELINE_KEYS, *RUN_KEYS)}
    # checked as a config file's settings: the same comma-list rule for --outputs
    return check_settings({k: v for k, v in given.items() if v is not None}, "command line")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    from .config import load_config_file, merge_settings, settings_from_png

    recorded = settings_from_png(args.config_from) if args.config_from else {}
    from_file = load_config_file(args.config) if args.config else {}
    settings = merge_settings(recorded, from_file, _flag_settings(args))
    args.debug = bool(settings.get("debug"))  # --debug may come from the config file
    return settings


def _pipeline_config(settings: Mapping[str, Any]) -> PipelineConfig:
    from .config import PIPELINE_KEYS
    from .pipeline import PipelineConfig

    return PipelineConfig.from_dict({k: v for k, v in settings.items() if k in PIPELINE_KEYS})


class _Stderr:
    """Whole lines on stderr, remembering whether one was cut off half-way.

    A Ctrl-C can arrive while a line is being written; the interruption message
    then starts with a line break instead of being glued to the half line.
    """

    open_line = False

    @classmethod
    def line(cls, text: str) -> None:
        cls.open_line = True
        sys.stderr.write(text + "\n")  # one write: the text and its line break together
        sys.stderr.flush()
        cls.open_line = False


def _as_flags(message: str) -> str:
    """Library messages name parameters (``max_pixels=``); the command's user knows flags."""
    import re

    from .config import PIPELINE_KEYS, RUN_KEYS

    names = "|".join(sorted((*PIPELINE_KEYS, *RUN_KEYS), key=len, reverse=True))

    def flag(match: re.Match[str]) -> str:
        name, value = "--" + match[1].replace("_", "-"), match[2]
        if name == "--outdir":
            name = "-o"
        if value in ("True", "False"):  # overwrite=True -> --overwrite
            return name if value == "True" else "--no-" + name[2:]
        return name + (" " + value if value else "")

    return re.sub(rf"\b({names})=(True\b|False\b|[^\s),;:]?)", flag, message)


def _error(message: str) -> None:
    _Stderr.line(f"sketchgrad: error: {_as_flags(message)}")


class _Progress:
    """Progress on stderr: a tqdm bar on a terminal, else one line per input.

    ``names`` maps paths as found to the names to show (``-`` for standard input).
    """

    def __init__(self, quiet: bool, debug: bool, names: dict[str, str] | None = None) -> None:
        self.quiet = quiet
        self.debug = debug
        self.names = names or {}
        self.bar: Any = None  # a tqdm bar (tqdm ships no types)
        self.tty = sys.stderr.isatty()

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            _Stderr.line(line)

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

    def done(self, outcome: Outcome) -> None:
        shown = self.names.get(outcome.input, outcome.input)
        if outcome.status == "failed":
            self._print(f"sketchgrad: error: {shown}: {_as_flags(outcome.error or '')}")
            if self.debug and outcome.traceback:
                self._print(outcome.traceback.rstrip())
        elif not self.quiet and self.bar is None:
            what = "done" if outcome.status == "ok" else "skipped (up to date)"
            self._print(f"{what}: {shown} ({outcome.seconds:.2f} s)")
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _check_dashes(args: argparse.Namespace, settings: Mapping[str, Any],
                  config: PipelineConfig) -> None:
    """``-`` means standard input or output only where that is one scan or one PNG."""
    inputs, outdir = args.inputs, settings.get("outdir")
    if STDIO in inputs:
        if len(inputs) > 1:
            raise _Usage("- (standard input) must be the only INPUT; give the other scans "
                         "in another run")
        if outdir != STDIO:
            raise _Usage("- (standard input) has no file name to name outputs after; write "
                         "the PNG to standard output with -o - and one --outputs kind")
    if outdir != STDIO:
        return
    if len(inputs) != 1:
        raise _Usage(f"-o - (standard output) takes one INPUT, not {len(inputs)}; give an "
                     "output folder for several")
    if inputs[0] != STDIO and Path(inputs[0]).is_dir():
        raise _Usage(f"{inputs[0]}: is a folder, and -o - (standard output) holds one PNG; "
                     "give one scan file, or an output folder")
    if len(config.outputs) != 1:
        raise _Usage("-o - (standard output) holds one PNG; choose one kind with --outputs "
                     "(e.g. --outputs hsv)")
    for flag, key in (("--json", "json"), ("--scheduler", "scheduler")):
        if settings.get(key):
            raise _Usage(f"{flag} cannot be used with -o - (standard output holds the PNG "
                         "and the scan is processed here); drop one of them")
    if args.dry_run:
        raise _Usage("--dry-run lists files to be written; -o - writes none, drop one of them")
    _check_stdout()


def _check_stdin() -> None:
    if sys.stdin is None or sys.stdin.isatty():
        raise _Usage("- reads a scan from standard input, which is a terminal; pipe or "
                     "redirect the scan into it (... - < page.png)")


def _check_stdout() -> None:
    if sys.stdout is None or sys.stdout.isatty():
        raise _Usage("-o - writes a PNG to standard output, which is a terminal; redirect "
                     "it to a file or a pipe (... -o - > out.png)")


def _stdin_scan() -> BinaryIO:
    """Standard input as a binary file object named ``-`` (load_scan's messages name it)."""
    data = io.BytesIO(sys.stdin.buffer.read())
    data.name = STDIO
    return data


def _to_stdout(path: Path) -> None:
    import shutil

    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    config = _pipeline_config(settings)
    outdir = settings.get("outdir")
    if not outdir:
        raise _Usage("-o OUTDIR is required (or outdir in the --config file)")
    _check_dashes(args, settings, config)
    if args.dry_run:
        return _dry_run(args.inputs, Path(outdir), config, settings)
    if outdir == STDIO:
        return _run_to_stdout(args.inputs[0], config, settings)
    return _run_batch(args.inputs, outdir, config, settings)


def _run_batch(inputs: list[str], outdir: str | Path, config: PipelineConfig,
               settings: Mapping[str, Any], names: dict[str, str] | None = None) -> int:
    from .batch import run_batch
    from .png import DEFAULT_COMPRESSION

    quiet, debug = bool(settings.get("quiet")), bool(settings.get("debug"))
    progress = _Progress(quiet, debug, names)
    start = time.perf_counter()
    renderer = _preview_renderer(inputs, config, settings)
    try:
        outcomes = run_batch(
            inputs, outdir, config,
            compression=settings.get("png_compression", DEFAULT_COMPRESSION),
            workers=settings.get("workers"), overwrite=bool(settings.get("overwrite")),
            normalize_scope=settings.get("normalize_scope", "image"),
            scheduler=settings.get("scheduler"), max_pixels=settings.get("max_pixels"),
            on_start=progress.start, on_measured=progress.measured, on_done=progress.done,
            preview_renderer=renderer)
    finally:
        if renderer is not None:
            renderer.close()
        progress.close()
    seconds = time.perf_counter() - start
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    if settings.get("json"):
        import json

        json.dump([o.to_dict() for o in outcomes], sys.stdout, indent=2)
        print()
    if names is not None:  # -o -: the PNG goes to stdout before the summary
        ok = [o for o in outcomes if o.status == "ok"]
        if ok:
            _to_stdout(Path(ok[0].outputs[0]))
    if not quiet:
        _Stderr.line(f"sketchgrad: {counts['ok']} done, {counts['skipped']} skipped, "
                     f"{counts['failed']} failed in {seconds:.1f} s")
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def _preview_renderer(inputs: list[str], config: PipelineConfig,
                      settings: Mapping[str, Any]) -> PreviewRenderer | None:
    """The preview process, started before any scan is loaded, when this process makes them.

    Only when the preview is an output and the scans are produced here: one
    worker, or one input file (a folder or pattern may find several, which go
    to the pool), and no cluster. See :mod:`sketchgrad.renderer`.
    """
    if settings.get("scheduler") or "preview" not in config.outputs:
        return None
    from .renderer import start_renderer

    workers = settings.get("workers") or os.cpu_count() or 1
    if workers != 1 and not (len(inputs) == 1 and Path(inputs[0]).is_file()):
        return None
    return start_renderer(config.outputs)


def _run_to_stdout(source: str, config: PipelineConfig, settings: Mapping[str, Any]) -> int:
    """One scan (a file, or ``-``) to one PNG on standard output, via a temporary folder."""
    import tempfile

    if source == STDIO:
        _check_stdin()
    with tempfile.TemporaryDirectory(prefix="sketchgrad-") as tmp:
        names: dict[str, str] = {}
        if source == STDIO:
            path = Path(tmp) / "stdin"
            path.write_bytes(sys.stdin.buffer.read())
            names[str(path)] = STDIO
            source = str(path)
        # a fresh folder: nothing to skip or protect, so --overwrite changes nothing
        return _run_batch([source], Path(tmp) / "out", config,
                          {**settings, "workers": 1, "overwrite": True}, names)


def _dry_run(inputs: list[str], outdir: Path, config: PipelineConfig,
             settings: Mapping[str, Any]) -> int:
    """List what ``run`` would write, skip and fail, with the reason; write nothing."""
    # the batch's own planning, step by step, without the output folder's mkdir and probe
    from .batch import NORMALIZE_SCOPES, merge_normalizers, pixel_limit
    from .errors import OutputError, choose
    from .inputs import discover, plan_outputs
    from .provenance import (
        expected_record,
        foreign_output,
        kept_statistics,
        normalizer_record,
        output_records,
        up_to_date,
    )

    scope = settings.get("normalize_scope", "image")
    choose(dict.fromkeys(NORMALIZE_SCOPES), scope, "normalize_scope")
    pixel_limit(settings.get("max_pixels"))
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: the output folder is a file; choose a folder (-o)")
    overwrite = bool(settings.get("overwrite"))
    found, problems = discover(inputs, outdir.resolve())
    planned, clashes = plan_outputs(found, outdir, config.outputs)
    rows: list[tuple[str, str, list[Path], str | None]] = [
        (o.input, "fail", [], o.error) for o in problems + clashes]
    pending = []
    for f, dests in ((p.found, list(p.outputs)) for p in planned):
        if not f.path.exists():
            rows.append((str(f.path), "fail", [], "no such file; check the path"))
        elif overwrite:
            rows.append((str(f.path), "write", dests, "--overwrite"))
        else:
            records = output_records(dests)
            clash = foreign_output(dests, records)
            if clash is not None:
                rows.append((str(f.path), "fail", [], f"{clash} exists and was not written "
                             "by sketchgrad; move it away or use --overwrite"))
            else:
                pending.append((f, dests, records))
    state, unmeasured = None, 0
    if scope == "batch" and pending:
        kept = [kept_statistics(f.path, dests, records[0], config)
                for f, dests, records in pending]
        unmeasured = sum(k is None for k in kept)
        if not unmeasured:  # every scale is recorded: the merged scale is known now
            state = normalizer_record(merge_normalizers(cast("list[Normalizer]", kept)))
    expected = expected_record(config, scope, state)
    for f, dests, records in pending:
        if unmeasured:
            why = _why_redo(f.path, dests, records, expected, compare_scale=False)
            if why is None:
                why = (f"{unmeasured} input(s) must be measured for the batch's scale first; "
                       "skipped if that scale is unchanged")
            rows.append((str(f.path), "write", dests, why))
        elif up_to_date(f.path, dests, records, expected):
            rows.append((str(f.path), "skip", dests, "up to date: newer than the input, "
                         "same settings"))
        else:
            rows.append((str(f.path), "write", dests,
                         _why_redo(f.path, dests, records, expected) or "out of date"))
    order = {str(f.path): i for i, f in enumerate(found)}
    rows.sort(key=lambda row: order.get(row[0], len(order)))
    if settings.get("json"):
        import json

        json.dump([{"input": i, "action": a, "outputs": [str(d) for d in ds], "reason": r}
                   for i, a, ds, r in rows], sys.stdout, indent=2)
        print()
    else:
        for source, action, dests, reason in rows:
            target = f" -> {', '.join(map(str, dests))}" if action == "write" else ""
            print(f"{action:<5} {source}{target}  ({reason})")
    counts = {a: sum(row[1] == a for row in rows) for a in ("write", "skip", "fail")}
    if not settings.get("quiet"):
        _Stderr.line(f"sketchgrad: dry run: {counts['write']} to process, {counts['skip']} "
                     f"to skip, {counts['fail']} would fail; nothing was written")
    return EXIT_FAILED if counts["fail"] else EXIT_OK


def _why_redo(source: Path, dests: list[Path], records: list[dict[str, Any] | None],
              expected: dict[str, Any], *,
              compare_scale: bool = True) -> str | None:
    """Why an input's outputs are not up to date (None: they are, as far as can be told)."""
    missing = [d.name for d in dests if not d.is_file()]
    if len(missing) == len(dests):
        return "no outputs yet"
    if missing:
        return f"missing {', '.join(missing)}"
    newest = source.stat().st_mtime_ns
    if any(d.stat().st_mtime_ns < newest for d in dests):
        return "the input changed after its outputs were written"
    for record in records:
        if record is None:  # not ours: refused before (_foreign), or missing (above)
            continue
        old, new = record.get("config") or {}, expected.get("config") or {}
        changed = [k for k in new if old.get(k) != new.get(k)]
        if changed:
            return "made with other settings (" + ", ".join(
                f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed) + ")"
        if record.get("normalize_scope") != expected.get("normalize_scope"):
            return (f"made with --normalize-scope {record.get('normalize_scope')}, now "
                    f"{expected.get('normalize_scope')}")
        if compare_scale and record.get("normalizer") != expected.get("normalizer"):
            return "the batch's normalization scale changed"
    return None


def _methods() -> int:
    from .color import COLOR_SPACE_NOTES, RAMPS
    from .denoise import DENOISE_METHODS
    from .gradients import OPERATORS
    from .normalize import NORMALIZE_METHODS

    sections = [
        ("denoise methods (--denoise)", {k: e.doc for k, e in DENOISE_METHODS.items()}),
        ("gradient operators (--operator)", {k: e.doc for k, e in OPERATORS.items()}),
        ("normalization methods (--normalize)",
         {k: e.doc for k, e in NORMALIZE_METHODS.items()}),
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
    print('colours (--color): hsv, stroke, a named ramp, "ramp:#hex,#hex,...", or any '
          "matplotlib colormap name")
    return 0


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(float(v) * 255):02x}" for v in rgb)


def _compare(args: argparse.Namespace) -> int:
    import tempfile

    from .batch import pixel_limit
    from .compare import render_comparison
    from .io import load_scan
    from .runners import one_line_reason

    settings = _settings(args)
    config = _pipeline_config(settings)
    to_stdout = args.output == STDIO
    dest = Path(args.output)
    if to_stdout:
        _check_stdout()
    elif dest.exists() and not settings.get("overwrite"):
        raise _Usage(f"{dest}: exists; choose another -o or use --overwrite")
    if args.input == STDIO:
        _check_stdin()
    limit = pixel_limit(settings.get("max_pixels"))
    with tempfile.TemporaryDirectory(prefix="sketchgrad-") as tmp:
        try:
            source = _stdin_scan() if args.input == STDIO else args.input
            scan = load_scan(source, mode="gray", max_pixels=limit)
            target = Path(tmp) / "sheet.png" if to_stdout else dest
            # its default record: the settings and the strength the sheet used
            render_comparison(scan, args.what, target, config=config)
        except SketchgradError as exc:
            _error(f"{args.input}: {one_line_reason(exc, args.input)}")
            if settings.get("debug"):
                traceback.print_exc()
            return EXIT_FAILED
        if to_stdout:
            _to_stdout(target)
    if not settings.get("quiet"):
        _Stderr.line(f"sketchgrad: wrote {'standard output' if to_stdout else dest}")
    return EXIT_OK


class _Usage(Exception):
    """A usage error found after parsing (exit status 2)."""


def _refuse_dash_settings(args: argparse.Namespace) -> None:
    for flag, value in (("--config", getattr(args, "config", None)),
                        ("--config-from", getattr(args, "config_from", None))):
        if value == STDIO:
            raise _Usage(f"{flag} -: settings are not read from standard input; give a file")


#: OpenBLAS threads of the libraries the command loads (``OPENBLAS_NUM_THREADS``, unless
#: set). OpenBLAS -- NumPy's, and the copy OpenCV's wheels bundle -- starts a thread per
#: core that spins for about 0.1 s of CPU after the library loads and after each call;
#: the command's parallelism is its own (tiles in threads, inputs in processes) and its
#: BLAS calls are tiny, so those threads only burn CPU (measured, 8.5 MP scan, 2 cores:
#: 0.1 s per OpenCV import, 0.07 s per NumPy import, in this process and in each preview
#: or worker process). ``import sketchgrad.cli`` loads neither (the package imports its
#: modules on first use), so ``main`` sets it in time.
BLAS_THREADS = "1"


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: ``EXIT_OK`` (0) done, ``EXIT_FAILED`` (1) some inputs
        failed, ``EXIT_USAGE`` (2) usage error, ``EXIT_INTERNAL`` (3) internal
        error, ``EXIT_INTERRUPTED`` (130) interrupted.

    Notes
    -----
    Sets ``OPENBLAS_NUM_THREADS=1`` in the environment unless it is set
    (:data:`BLAS_THREADS`), before NumPy and OpenCV are loaded, for this
    process and those the command starts (preview, workers).

    Examples
    --------
    >>> main(["methods"])  # doctest: +ELLIPSIS
    denoise methods (--denoise):
    ...
    0
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", BLAS_THREADS)
    # The command reports each input on one line: Pillow's notes on odd metadata in a
    # file that still decodes, and matplotlib's note that a title character (a file
    # name in another script) has no glyph in the font, would only add noise.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    warnings.filterwarnings("ignore", message=r"Glyph .* missing from (current )?font",
                            category=UserWarning)  # matplotlib 3.8 says "current font"
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        early = _early_args(argv)
        if early is not None:
            _decode_ahead(early)
        # the early parse reads a run's arguments as the full parser does (they differ in
        # help texts and compare's choices only): no second parser for a run
        return _main(argv, early if early is not None and early.command == "run" else None)
    except KeyboardInterrupt:  # before the work: reading the arguments, importing
        return _interrupted()
    finally:
        ahead.discard()  # a scan decoded ahead and not used (a skipped or failed run)


def _interrupted() -> int:
    # a line cut off by the Ctrl-C is ended first, so the message stands on its own
    lead = "\n" if _Stderr.open_line else ""
    _Stderr.open_line = False
    _Stderr.line(f"{lead}sketchgrad: interrupted; temporary files removed")
    return EXIT_INTERRUPTED


def _main(argv: list[str], parsed: argparse.Namespace | None = None) -> int:
    """The command on ``argv``, or on ``parsed`` (its arguments, read already)."""
    try:
        args = parsed if parsed is not None else _build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return int(exc.code or 0)
    try:
        _refuse_dash_settings(args)
        if args.command == "methods":
            return _methods()
        if args.command == "compare":
            return _compare(args)
        return _run(args)
    except KeyboardInterrupt:
        return _interrupted()
    except (SketchgradError, _Usage) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        _error(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line unless --debug
        if getattr(args, "debug", False):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); run again with --debug "
               "and report the traceback")
        return EXIT_INTERNAL


def _early_args(argv: list[str]) -> argparse.Namespace | None:
    """The arguments as the parser built without the library's names reads them, or None.

    That parser imports nothing heavy, so a run knows its scan before NumPy,
    OpenCV and sketchgrad are imported (:func:`_decode_ahead`); it reads the
    arguments as the full parser does (the two differ in help texts and
    ``compare``'s choices only), so a ``run`` goes on with what it read and
    the other commands read them again with the full parser. Whatever
    it prints is swallowed: ``--help``, ``--version`` and usage errors give None.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            return _build_parser(_Names()).parse_args(argv)
    except SystemExit:
        return None


def _decode_ahead(args: argparse.Namespace) -> None:
    """Start decoding the one scan file of ``sketchgrad run`` while the library is imported.

    Only a run of one existing file, or ``compare``'s file, starts a decode
    (:mod:`sketchgrad.ahead`): not a folder, a pattern, several inputs, ``-``,
    ``--dry-run`` or ``--scheduler``, nor with ``SKETCHGRAD_DECODE_AHEAD=0``.
    """
    if os.environ.get(AHEAD_ENV_VAR, "1").strip().lower() in ("0", "no", "off", "false"):
        return
    if args.command == "compare":
        source = args.input
    elif args.command == "run" and len(args.inputs) == 1 and not (args.dry_run or args.scheduler):
        source = args.inputs[0]
    else:
        return
    if source != STDIO:
        ahead.start(source)


def console() -> NoReturn:
    """The ``sketchgrad`` program (and ``python -m sketchgrad``): :func:`main`, then exit.

    Exits with :func:`main`'s status without tearing the interpreter down
    module by module: NumPy, OpenCV and Pillow loaded, that teardown takes
    about 20 ms, a twentieth of a one-scan run, and frees nothing the system
    would not take back at once. What a normal exit does that matters still
    happens first: standard output and error are flushed and the ``atexit``
    functions run (multiprocessing's clean-up, temporary folders left to
    ``weakref.finalize``). When another non-daemon thread still runs, a
    stream cannot be flushed (a closed pipe), or the interpreter has no
    ``atexit._run_exitfuncs`` (CPython's), the exit is the normal one, so
    those cases behave as before.
    """
    _leave(main())


def _leave(status: int) -> NoReturn:
    """Exit with ``status``: at once where nothing is left to do (see :func:`console`)."""
    import atexit

    # CPython's own runner of the exit functions (the one its shutdown calls)
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None or any(
            t is not threading.current_thread() and not t.daemon and t.is_alive()
            for t in threading.enumerate()):
        sys.exit(status)  # the normal exit: it waits for the thread, runs the functions
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe: the interpreter reports it, as usual
        sys.exit(status)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):  # an exit function may have printed
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    os._exit(status)
