"""
Gradients of a colour drawing
=============================

Converting a colour drawing to grey loses edges between colours of similar lightness, such
as the balloons' stripes. :func:`sketchgrad.gradient_field` on an (H, W, 3) image uses the
Di Zenzo structure tensor, which measures the change of colour itself, so those edges come
back.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

rgb = sg.data.marker_balloons(mode="rgb").image[::2, ::2]
grey = sg.data.marker_balloons().image[::2, ::2]

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
axes[0].imshow(rgb)
axes[0].set_title("scan (mode='rgb')")
for ax, (title, image) in zip(axes[1:], [("grey gradient", grey), ("colour gradient (Di Zenzo)",
                                                                    rgb)], strict=True):
    magnitude = sg.gradient_field(image).magnitude
    ax.imshow(sg.normalize(magnitude, "robust"), cmap="magma")
    ax.set_title(title)
for ax in axes:
    ax.set_axis_off()
plt.show()
