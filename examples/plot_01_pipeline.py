"""
The pipeline on a scan
======================

One call, :func:`sketchgrad.process`, runs every stage on a scan: denoising, gradients,
normalization, colour and the relief. Looking at the stages side by side is the quickest way
to see what each one contributes before tuning any of them.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

scan = sg.data.ink_bird_rgba()
result = sg.process(scan, sg.PipelineConfig(normalize="robust"))

panels = {
    "scan": (scan.image, "gray"),
    "gradient magnitude (robust)": (result.normalized, "magma"),
    "hsv: hue = direction": (result.hsv, None),
    "relief": (result.sketch, "gray"),
}
fig, axes = plt.subplots(2, 2, figsize=(9, 6), layout="constrained")
for ax, (title, (image, cmap)) in zip(axes.flat, panels.items(), strict=True):
    ax.imshow(image, cmap=cmap)
    ax.set_title(title)
    ax.set_axis_off()
plt.show()
