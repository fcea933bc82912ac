"""
Colour ramps in four spaces
===========================

The same three stops interpolated in HSV, HSL, OKLab and OKLCH give different ramps: the
hue spaces swing through bright and dark bands, while OKLab moves evenly in lightness.
``uniform=True`` spaces the stops by perceived distance (OKLab ΔE), so equal steps of the
gradient look equally different — compare the soft shadows under the two ramps below.
"""

import matplotlib.pyplot as plt
import numpy as np

import sketchgrad as sg

stops = ["#1b1b3a", "#e0405a", "#fff3c0"]
ramps = [sg.ColorRamp(stops, space=space, uniform=uniform)
         for space in ("hsv", "hsl", "oklab", "oklch") for uniform in (False, True)]
cube = sg.data.cube_shading_16bit().image[::2, ::2]
strength = sg.normalize(sg.gradient_field(sg.denoise(cube, "gaussian")).magnitude, "robust")

fig = plt.figure(figsize=(12, 7), layout="constrained")
ax_strips, ax_light = fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2)
ax_strips.imshow(np.concatenate([ramp.strip(512, 24) for ramp in ramps]), aspect="auto")
ax_strips.set_yticks(np.arange(len(ramps)) * 24 + 12,
                     [f"{r.space}{', uniform' if r.uniform else ''}" for r in ramps])
ax_strips.set_xticks([])
t = np.linspace(0, 1, 256, dtype=np.float32)
for ramp in ramps[1::2]:
    # Rec. 709 luma of the sRGB values: a quick look at how lightness moves along the ramp
    ax_light.plot(t, ramp(t) @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32),
                  label=f"{ramp.space}, uniform")
ax_light.set_xlabel("input value")
ax_light.set_ylabel("luma of the colour")
ax_light.legend()
for column, ramp in enumerate((ramps[0], ramps[5])):
    ax = fig.add_subplot(2, 2, 3 + column)
    ax.imshow(ramp(strength))
    ax.set_title(f"gradient strength through the {ramp.space}"
                 f"{', uniform' if ramp.uniform else ''} ramp")
    ax.set_axis_off()
plt.show()
