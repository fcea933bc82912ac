"""
Which way the strokes run
=========================

Hatching and shading are made of strokes laid in a few directions; knowing them tells a
drawing's hand and style apart. :func:`sketchgrad.stroke_directions` measures the angle of the
strokes at every pixel (degrees as one reads the page: 0 horizontal, 45 rising ``/``);
:func:`sketchgrad.flow_picture` draws the field and :func:`sketchgrad.plot_rose` its histogram.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

image = sg.data.pencil_still_life().image[::2, ::2]
directions = sg.stroke_directions(image)
print(directions.summary())

fig = plt.figure(figsize=(12, 4.2), layout="constrained")
ax_scan = fig.add_subplot(1, 3, 1)
ax_flow = fig.add_subplot(1, 3, 2)
ax_rose = fig.add_subplot(1, 3, 3, projection="polar")
ax_scan.imshow(image, cmap="gray")
ax_scan.set_title("scan")
ax_flow.imshow(sg.flow_picture(directions))
ax_flow.set_title("flow picture (hue = stroke angle)")
for ax in (ax_scan, ax_flow):
    ax.set_axis_off()
sg.plot_rose(ax_rose, directions)
ax_rose.set_title("stroke angles", pad=20)
plt.show()
