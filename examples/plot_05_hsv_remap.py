"""
Direction as colour, and its legend
===================================

:func:`sketchgrad.hsv_remap` shows where the tone rises as hue and how fast as brightness, so
both edges of a stroke get opposite colours. :func:`sketchgrad.color_wheel` is the legend
(right is red, down is chartreuse); ``axial=True`` gives both edges one colour, for the
direction of the stroke itself.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

image = sg.data.cube_shading_16bit().image
field = sg.gradient_field(sg.denoise(image, "gaussian"))

fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), layout="constrained",
                         gridspec_kw={"width_ratios": [4, 1, 4, 1]})
for (ax_image, ax_wheel), axial in zip(axes.reshape(2, 2), (False, True), strict=True):
    ax_image.imshow(sg.hsv_remap(field, normalize="robust", axial=axial))
    ax_image.set_title(f"hsv_remap(axial={axial})")
    ax_wheel.imshow(sg.color_wheel(128, axial=axial))
    ax_wheel.set_title("legend")
    for ax in (ax_image, ax_wheel):
        ax.set_axis_off()
plt.show()
