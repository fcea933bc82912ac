"""
Normalization methods side by side
==================================

The same gradient magnitudes look very different under min-max, z-score, L2 and the robust
percentile scaling, because each takes its scale from different statistics. A few extreme
pixels set min-max's scale and leave the strokes dim; the robust method ignores the top and
bottom 1 %, so strokes are well exposed.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

scan = sg.data.pencil_still_life()
magnitude = sg.gradient_field(scan.image).magnitude

methods = ["minmax", "zscore", "l2", "robust"]
fig, axes = plt.subplots(2, 4, figsize=(12, 5), layout="constrained",
                         gridspec_kw={"height_ratios": [3, 1.4]})
for column, method in enumerate(methods):
    values = sg.normalize(magnitude, method)
    axes[0, column].imshow(sg.to_unit(values, method), cmap="gray")
    axes[0, column].set_title(method)
    axes[0, column].set_axis_off()
    # the histogram of the method's own output: its range and how the values spread in it
    axes[1, column].hist(values.ravel(), bins=100, log=True, color="0.3")
    axes[1, column].set_xlabel(f"{method} value")
axes[1, 0].set_ylabel("pixels (log)")
plt.show()
