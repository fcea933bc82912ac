"""
The hand-drawn relief and its light
===================================

:func:`sketchgrad.sketch_effect` reads the drawing as a height field and lights it, like the
classic NumPy "hand-drawn" script. The light's elevation decides how much of the paper's
grain and the strokes' depth shows; a colour ramp tints the tone under the same shading.
"""

import matplotlib.pyplot as plt
import numpy as np

import sketchgrad as sg

image = sg.data.pencil_still_life().image[::2, ::2]
settings = {
    "classic (elevation pi/2.2)": {},
    "low light (elevation pi/6)": {"elevation": np.pi / 6},
    "light from the other side": {"azimuth": np.pi + np.pi / 4},
    "sepia ramp, median first": {"color": "sepia", "denoise": "median"},
}

fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
for ax, (title, options) in zip(axes.flat, settings.items(), strict=True):
    ax.imshow(sg.sketch_effect(image, **options), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_axis_off()
plt.show()
