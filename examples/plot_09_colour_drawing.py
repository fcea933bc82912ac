"""
A colour drawing
================

Converting a colour drawing to grey loses edges between colours of similar lightness, such
as the balloons' stripes: :func:`sketchgrad.gradient_field` on an (H, W, 3) image measures the
change of colour itself (the Di Zenzo structure tensor), so those edges come back.
:func:`sketchgrad.stroke_color` draws each edge in its stroke's colour and
:func:`sketchgrad.colour_relief` lights the relief in the drawing's own colours.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

rgb = sg.data.marker_balloons(mode="rgb").image[::2, ::2]
print("processed as:", sg.resolve_channels(rgb, "auto"))

grey_field = sg.gradient_field(sg.luma(rgb))
colour_field = sg.gradient_field(rgb)
strength = sg.normalize(colour_field.magnitude, "robust")
panels = {
    "scan (mode='rgb')": rgb,
    "grey gradient": sg.normalize(grey_field.magnitude, "robust"),
    "colour gradient (Di Zenzo)": strength,
    "stroke_color": sg.stroke_color(colour_field, rgb, strength),
    "colour_relief": sg.colour_relief(rgb),
    "hsv_remap of the colour field": sg.hsv_remap(colour_field, normalize="robust"),
}

fig, axes = plt.subplots(2, 3, figsize=(13, 6.6), layout="constrained")
for ax, (title, image) in zip(axes.flat, panels.items(), strict=True):
    ax.imshow(image, cmap="magma" if image.ndim == 2 else None)
    ax.set_title(title)
    ax.set_axis_off()
plt.show()
