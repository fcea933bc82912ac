#!/usr/bin/env python
"""Draw the README's stroke-directions figure: a bundled drawing, its flow picture, its rose.

Usage::

    python scripts/make_flow_figure.py [--scan sample_images/pencil_still_life.png]
                                       [--out docs/flow.png]

The flow picture and the figures are the pipeline's (``process(scan,
PipelineConfig(outputs=("flow",)))``); the JSON figures are printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", default=HERE.parent / "sample_images" / "pencil_still_life.png")
    parser.add_argument("--out", default=HERE.parent / "docs" / "flow.png")
    args = parser.parse_args()

    from matplotlib.figure import Figure

    import sketchgrad as sg
    from sketchgrad.strokes import plot_rose

    scan = sg.load_scan(args.scan)
    result = sg.process(scan, sg.PipelineConfig(outputs=("flow",)))
    print(json.dumps(result.strokes.summary()))
    fig = Figure(figsize=(12, 3.4), dpi=100, layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.4, 1.4, 1])
    for i, (picture, title) in enumerate(((scan.image, "scan"),
                                          (result.flow, "flow picture (--outputs flow)"))):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(np.clip(picture, 0, 1), cmap="gray" if picture.ndim == 2 else None,
                  vmin=0, vmax=1, interpolation="antialiased")
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    rose = fig.add_subplot(grid[0, 2], projection="polar")
    plot_rose(rose, result.strokes)
    rose.set_title(f"rose · coherence {result.strokes.overall_coherence:.2f}", fontsize=10,
                   pad=16)
    rose.tick_params(labelsize=7)
    fig.savefig(args.out, format="png", pil_kwargs={"optimize": True})
    print(args.out)


if __name__ == "__main__":
    main()
