"""The ``sketchgrad`` command: argument parsing only; the work is in the library."""

from __future__ import annotations

import argparse
import sys

from .errors import SketchgradError

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .denoise import DENOISE_METHODS
    from .gradients import OPERATORS
    from .normalize import NORMALIZE_METHODS
    from .pipeline import OUTPUT_KINDS

    parser = argparse.ArgumentParser(
        prog="sketchgrad",
        description="Turn scanned drawings into gradient fields, colour and relief.")
    parser.add_argument("--version", action="version", version=f"sketchgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="process scans (files or folders) into OUTDIR")
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="scan files or folders")
    run.add_argument("-o", "--outdir", required=True, help="folder for the outputs")
    run.add_argument("--denoise", default="gaussian", choices=sorted(DENOISE_METHODS))
    run.add_argument("--strength", type=float, default=None,
                     help="denoise strength (default: estimated from the scan)")
    run.add_argument("--operator", default="sobel", choices=sorted(OPERATORS))
    run.add_argument("--normalize", default="minmax", choices=sorted(NORMALIZE_METHODS))
    run.add_argument("--outputs", default=",".join(OUTPUT_KINDS),
                     help=f"comma list of {','.join(OUTPUT_KINDS)} (default: all)")
    run.add_argument("--color", default="hsv",
                     help="hsv, a ramp spec \"ramp:#1b1b3a,#f0a030,#fffbe6\" or a colormap name")
    run.add_argument("--color-target", default="magnitude", choices=["magnitude", "tone"])
    run.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some failed, 2 usage)."""
    from .batch import run_batch
    from .pipeline import PipelineConfig

    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        config = PipelineConfig(denoise=args.denoise, strength=args.strength,
                                operator=args.operator, normalize=args.normalize,
                                color=args.color, color_target=args.color_target,
                                outputs=tuple(o.strip() for o in args.outputs.split(",")
                                              if o.strip()))
    except SketchgradError as exc:
        parser.error(str(exc))

    def report(outcome):
        if outcome.status == "failed":
            print(f"sketchgrad: error: {outcome.error}", file=sys.stderr)
        else:
            print(f"{outcome.status}: {outcome.input}", file=sys.stderr)

    try:
        outcomes = run_batch(args.inputs, args.outdir, config, on_done=report)
    except SketchgradError as exc:
        if args.debug:
            raise
        print(f"sketchgrad: error: {exc}", file=sys.stderr)
        return 2
    failed = sum(o.status == "failed" for o in outcomes)
    print(f"sketchgrad: {len(outcomes) - failed} done, {failed} failed", file=sys.stderr)
    return 1 if failed else 0
