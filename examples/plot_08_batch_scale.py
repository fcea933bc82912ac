"""
One scale across a batch
========================

Normalizing each page on its own makes a faint page as bright as a bold one, so pages of one
sketchbook cannot be compared. A :class:`sketchgrad.Normalizer` fitted on every page (or on
parts fitted in separate processes and merged) puts them all on one scale.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

bold = sg.data.ink_landscape().image[::2, ::2]
faint = 1 - 0.3 * (1 - bold)  # the same drawing, as a pale pencil copy
pages = {"bold": sg.gradient_field(bold).magnitude, "faint": sg.gradient_field(faint).magnitude}

# fit each half separately, as two worker processes would, then merge the statistics
shared = sg.Normalizer("robust").fit(pages["bold"]).merge(
    sg.Normalizer("robust").fit(pages["faint"]))

fig, axes = plt.subplots(2, 2, figsize=(10, 6), layout="constrained")
for column, (name, magnitude) in enumerate(pages.items()):
    axes[0, column].imshow(sg.normalize(magnitude, "robust"), cmap="gray", vmin=0, vmax=1)
    axes[0, column].set_title(f"{name}: its own scale")
    axes[1, column].imshow(shared.transform(magnitude), cmap="gray", vmin=0, vmax=1)
    axes[1, column].set_title(f"{name}: the batch's scale")
for ax in axes.flat:
    ax.set_axis_off()
plt.show()
