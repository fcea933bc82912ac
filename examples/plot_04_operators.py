"""
Gradient operators compared
===========================

Every operator in :data:`sketchgrad.OPERATORS` reports gradients in intensity per pixel, so on
a smooth ramp they all give the same numbers. On a pen stroke only a few pixels wide they
differ: the profile across one stroke shows central differences, Sobel, Scharr and Prewitt
agreeing on its height, and Farid's wider smoothing spreading and lowering it.
"""

import matplotlib.pyplot as plt

import sketchgrad as sg

crop = sg.data.ink_landscape().image[300:420, 600:760]
column = 40  # crosses the long stroke near row 75

fig, axes = plt.subplots(2, 3, figsize=(11, 6), layout="constrained")
for ax, name in zip(axes.flat, sg.OPERATORS, strict=False):
    magnitude = sg.gradient_field(crop, name).magnitude
    ax.imshow(magnitude, cmap="magma", vmin=0, vmax=0.6)
    ax.axvline(column, color="cyan", lw=0.6)
    ax.set_title(name)
    ax.set_axis_off()
    axes.flat[-1].plot(range(62, 88), magnitude[62:88, column], label=name)
axes.flat[-1].set_title(f"magnitude down column {column}")
axes.flat[-1].set_xlabel("row")
axes.flat[-1].legend(fontsize=8)
plt.show()
