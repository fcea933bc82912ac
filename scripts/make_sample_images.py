#!/usr/bin/env python
"""Draw the sample drawings in ``sample_images/`` (seeded: reruns give identical bytes).

Usage::

    python scripts/make_sample_images.py [OUTDIR] [--only NAME ...] [--sheet docs/samples.png]

Every drawing is made of strokes: a polyline is perturbed by smooth random
noise (a hand's wobble), turned into a tapered outline polygon (pressure) and
filled at ``SS`` times the final resolution, then box-downsampled, which
anti-aliases it. Pencil marks are modulated by the paper's tooth (filtered
noise), so light strokes look grainy and heavy ones solid; marker ink layers
multiplicatively, as transparent dye does. Only NumPy, OpenCV and Pillow are used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

#: Supersampling factor: strokes are filled at SS x the output size, then box-averaged.
SS = 3
#: Base seed; drawing number i uses SEED + i, so each can be regenerated alone.
SEED = 20261126

# --------------------------------------------------------------------------- geometry


def spline(ctrl, n_per: int = 16, closed: bool = False) -> np.ndarray:
    """Catmull-Rom spline through control points, ``n_per`` samples per span."""
    p = np.asarray(ctrl, dtype=np.float64)
    if closed:
        p = np.vstack([p[-1], p, p[0], p[1]])
    else:
        p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, n_per, endpoint=False)[:, None]
    spans = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        spans.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                            + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    spans.append(p[-2][None])
    return np.vstack(spans)


def arc(cx, cy, rx, ry, a0, a1, n: int = 64, rot: float = 0.0) -> np.ndarray:
    """Points of an elliptical arc from angle a0 to a1 (radians, y down)."""
    a = np.linspace(a0, a1, n)
    x, y = rx * np.cos(a), ry * np.sin(a)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def resample(pts: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline at (about) equal arc-length steps."""
    pts = np.asarray(pts, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(np.ceil(s[-1] / step)) + 1)
    u = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(u, s, pts[:, 0]), np.interp(u, s, pts[:, 1])], 1)


def smooth_noise(rng: np.random.Generator, n: int, corr: float) -> np.ndarray:
    """Unit-variance 1-D noise correlated over about ``corr`` samples."""
    corr = max(corr, 0.5)
    half = int(3 * corr) + 1
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / corr) ** 2)
    white = rng.standard_normal(n + 2 * half)
    out = np.convolve(white, kernel, mode="valid")
    return out / (np.sqrt(np.sum(kernel ** 2)))


def normals(pts: np.ndarray) -> np.ndarray:
    """Unit normals of a polyline."""
    tangent = np.gradient(pts, axis=0)
    length = np.hypot(tangent[:, 0], tangent[:, 1])
    length[length == 0] = 1.0
    return np.stack([-tangent[:, 1], tangent[:, 0]], 1) / length[:, None]


def wobble(rng, pts, amp: float = 1.0, corr: float = 40.0, step: float = 2.0) -> np.ndarray:
    """Perturb a path sideways by smooth noise: amplitude ``amp`` px, wavelength ~``corr`` px."""
    pts = resample(pts, step)
    offset = smooth_noise(rng, len(pts), corr / step) * amp
    return pts + normals(pts) * offset[:, None]


def pressure(rng, n: int, *, start: float = 0.15, end: float = 0.25, floor: float = 0.2,
             vary: float = 0.15) -> np.ndarray:
    """A stroke's pressure along its length: rises, holds (wavering), lifts off."""
    t = np.linspace(0.0, 1.0, n)
    ramp = np.minimum(1.0, np.minimum(t / max(start, 1e-3), (1 - t) / max(end, 1e-3)))
    prof = floor + (1 - floor) * np.sqrt(np.clip(ramp, 0, 1))
    return prof * (1 + vary * smooth_noise(rng, n, n / 4 + 1))


def outline(pts: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Polygon around a path with the given half-widths."""
    off = normals(pts) * np.asarray(half_width)[:, None]
    return np.vstack([pts + off, (pts - off)[::-1]])


# --------------------------------------------------------------------------- rendering


def blur(a: np.ndarray, sigma: float, sigma_y: float | None = None) -> np.ndarray:
    return cv2.GaussianBlur(a.astype(np.float32), (0, 0), sigmaX=sigma,
                            sigmaY=sigma if sigma_y is None else sigma_y,
                            borderType=cv2.BORDER_REFLECT_101)


def unit_noise(rng, h: int, w: int, sigma: float, sigma_y: float | None = None) -> np.ndarray:
    """Filtered Gaussian noise rescaled to unit standard deviation."""
    a = blur(rng.standard_normal((h, w)).astype(np.float32), sigma, sigma_y)
    return (a - a.mean()) / (a.std() + 1e-12)


def paper_grain(rng, h: int, w: int) -> np.ndarray:
    """Paper texture: fine tooth + coarser pulp + horizontal fibres, unit std."""
    g = (0.65 * unit_noise(rng, h, w, 0.7) + 0.45 * unit_noise(rng, h, w, 2.0)
         + 0.3 * unit_noise(rng, h, w, 6.0, 0.8))
    return (g / g.std()).astype(np.float32)


class Sheet:
    """Ink on paper, kept as a per-channel transmittance (1 = bare paper)."""

    def __init__(self, w: int, h: int, channels: int = 1, tooth: np.ndarray | None = None):
        self.w, self.h = w, h
        self.trans = np.ones((h, w, channels), np.float32)
        self.tooth = tooth
        self._tooth_pow: dict[float, np.ndarray] = {}

    def tooth_pow(self, gamma: float) -> np.ndarray | None:
        if self.tooth is None or gamma == 0:
            return None
        key = round(gamma, 2)
        if key not in self._tooth_pow:
            self._tooth_pow[key] = np.power(self.tooth, key).astype(np.float32)
        return self._tooth_pow[key]

    # -- single strokes (each composited on its own: overlaps build up) --
    def stroke(self, pts, half_width, *, dark: float = 0.9, colour=None, grain: float = 0.0,
               clip: np.ndarray | None = None) -> None:
        """Composite one stroke. ``colour`` (RGB in [0, 1]) is a dye; else neutral ``dark``."""
        pts = np.asarray(pts, dtype=np.float64)
        hw = np.broadcast_to(np.asarray(half_width, dtype=np.float64), (len(pts),))
        poly = outline(pts, hw)
        pad = 2
        x0 = max(int(np.floor(poly[:, 0].min())) - pad, 0)
        y0 = max(int(np.floor(poly[:, 1].min())) - pad, 0)
        x1 = min(int(np.ceil(poly[:, 0].max())) + pad, self.w)
        y1 = min(int(np.ceil(poly[:, 1].max())) + pad, self.h)
        if x1 <= x0 or y1 <= y0:
            return
        img = Image.new("L", ((x1 - x0) * SS, (y1 - y0) * SS), 0)
        local = (poly - [x0, y0]) * SS
        ImageDraw.Draw(img).polygon(local.ravel().tolist(), fill=255)
        mask = np.asarray(img.reduce(SS), dtype=np.float32) * np.float32(1 / 255)
        self._composite(mask, (slice(y0, y1), slice(x0, x1)), dark, colour, grain, clip)

    def _composite(self, mask, box, dark, colour, grain, clip) -> None:
        tooth = self.tooth_pow(grain)
        if tooth is not None:
            mask = mask * tooth[box]
        if clip is not None:
            mask = mask * clip[box]
        if colour is None:
            self.trans[box] *= (1.0 - dark * mask)[..., None]
        else:
            absorb = dark * (1.0 - np.asarray(colour, dtype=np.float32))
            self.trans[box] *= 1.0 - mask[..., None] * absorb

    # -- many strokes drawn into one layer, then composited once --
    def layer(self) -> Layer:
        return Layer(self.w, self.h)

    def apply(self, mask: np.ndarray, *, dark: float = 0.9, colour=None, grain: float = 0.0,
              clip: np.ndarray | None = None) -> None:
        self._composite(mask, (slice(None), slice(None)), dark, colour, grain, clip)


class Layer:
    """Full-sheet supersampled coverage for strokes that do not overlap much."""

    def __init__(self, w: int, h: int):
        self.img = Image.new("L", (w * SS, h * SS), 0)
        self.draw = ImageDraw.Draw(self.img)

    def stroke(self, pts, half_width, value: float = 1.0) -> None:
        hw = np.broadcast_to(np.asarray(half_width, dtype=np.float64), (len(pts),))
        poly = outline(np.asarray(pts, dtype=np.float64), hw) * SS
        self.draw.polygon(poly.ravel().tolist(), fill=int(round(255 * min(value, 1.0))))

    def mask(self) -> np.ndarray:
        return np.asarray(self.img.reduce(SS), dtype=np.float32) * np.float32(1 / 255)


def pen_line(sheet_or_layer, rng, pts, *, width: float = 1.6, dark: float = 0.85,
             amp: float = 0.8, corr: float = 60.0, grain: float = 0.0, colour=None,
             passes: int = 1, spread: float = 1.0, overshoot: float = 0.0,
             taper: tuple[float, float] = (0.1, 0.2), clip=None, vary: float = 0.15) -> None:
    """A hand-drawn line along ``pts``: wobble, pressure, optional repeated passes."""
    base = resample(pts, 2.0)
    for k in range(passes):
        p = base
        if overshoot:
            d0 = p[0] - p[1]
            d1 = p[-1] - p[-2]
            e0 = overshoot * rng.uniform(0.3, 1.0) / (np.hypot(*d0) + 1e-9)
            e1 = overshoot * rng.uniform(0.3, 1.0) / (np.hypot(*d1) + 1e-9)
            p = np.vstack([p[0] + d0 * e0, p, p[-1] + d1 * e1])
        if k:
            p = p + rng.normal(0, spread, 2)
        p = wobble(rng, p, amp=amp, corr=corr)
        hw = 0.5 * width * pressure(rng, len(p), start=taper[0], end=taper[1], vary=vary)
        level = dark * (rng.uniform(0.75, 1.0) if k else 1.0)
        if isinstance(sheet_or_layer, Layer):
            sheet_or_layer.stroke(p, hw, level)
        else:
            sheet_or_layer.stroke(p, hw, dark=level, grain=grain, colour=colour, clip=clip)


def hatch(rng, layer: Layer, region: np.ndarray, angle: float, spacing: float, length: float,
          *, width: float = 1.1, bow: float = 0.04, amp: float = 0.4,
          press: tuple[float, float] = (0.55, 1.0)) -> int:
    """Fill ``region`` (bool, H x W) with short parallel hand strokes at ``angle`` degrees."""
    h, w = region.shape
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        return 0
    theta = np.deg2rad(angle)
    d = np.array([np.cos(theta), -np.sin(theta)])
    n = np.array([np.sin(theta), np.cos(theta)])
    corners = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()],
                        [xs.min(), ys.max()], [xs.max(), ys.max()]], dtype=np.float64)
    perp, along = corners @ n, corners @ d
    count = 0
    off = perp.min() + rng.uniform(0, spacing)
    while off < perp.max():
        s = np.arange(along.min() - 2, along.max() + 2, 2.0)
        line = off * n + s[:, None] * d
        xi, yi = np.round(line[:, 0]).astype(int), np.round(line[:, 1]).astype(int)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        inside = np.zeros(len(s), bool)
        inside[ok] = region[yi[ok], xi[ok]]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            lo, hi = s[a] - rng.uniform(0, 4), s[b - 1] + rng.uniform(0, 4)
            pos = lo - rng.uniform(0, 0.6) * length
            while pos < hi:
                seg = length * rng.uniform(0.6, 1.3)
                p0, p1 = max(pos, lo), min(pos + seg, hi)
                if p1 - p0 > 3:
                    t = np.linspace(0, 1, max(3, int((p1 - p0) / 3)))[:, None]
                    jig = off + rng.normal(0, spacing * 0.12)
                    pts = (jig * n + (p0 + t * (p1 - p0)) * d
                           + n * (bow * (p1 - p0) * rng.uniform(-1, 1)) * np.sin(np.pi * t))
                    if amp:
                        pts = wobble(rng, pts, amp=amp, corr=30.0)
                    hw = 0.5 * width * pressure(rng, len(pts), start=0.05, end=0.35, floor=0.3)
                    layer.stroke(pts, hw, rng.uniform(*press))
                    count += 1
                pos += seg + rng.uniform(-0.1, 0.25) * length
        off += spacing * rng.uniform(0.8, 1.2)
    return count


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return y, x


# --------------------------------------------------------------------------- drawings


def pencil_still_life(rng) -> Image.Image:
    """Graphite still life: bowl, vase and apple with hatching, on grainy paper."""
    w, h = 1400, 1000
    grain = paper_grain(rng, h, w)
    tooth = np.clip(0.68 + 0.2 * grain + 0.12 * unit_noise(rng, h, w, 1.3), 0.05, 1.0)
    sheet = Sheet(w, h, tooth=tooth)
    y, x = grid(h, w)
    light = np.array([-0.62, -0.45, 0.64])
    light /= np.linalg.norm(light)

    # Vase: a surface of revolution with profile r(y).
    vcx, vtop, vbase = 720.0, 250.0, 700.0
    prof = spline([(250, 60), (268, 50), (320, 42), (385, 52), (470, 112), (560, 150),
                   (630, 140), (680, 112), (700, 88)], n_per=24)
    prof = prof[np.argsort(prof[:, 0])]
    vr = np.interp(y[:, 0], prof[:, 0], prof[:, 1]).astype(np.float32)[:, None]
    vase = (np.abs(x - vcx) < vr) & (y >= vtop) & (y <= vbase)
    u = np.clip((x - vcx) / vr, -1, 1)
    nz = np.sqrt(1 - u ** 2)
    lam = np.clip(u * light[0] + nz * light[2] + 0.1, 0, 1)
    vase_dark = np.clip(0.95 * (1 - lam) - 0.05, 0, 1)
    vase_dark -= 0.22 * np.clip((u - 0.75) / 0.25, 0, 1) * (u < 0.98)  # reflected light

    # Bowl: rim ellipse at y = brim, body = lower half-ellipsoid.
    bcx, brim, brx, bry, bdepth = 360.0, 545.0, 190.0, 44.0, 140.0
    rim_in = ((x - bcx) / brx) ** 2 + ((y - brim) / bry) ** 2 < 1
    body_v = (y - brim) / bdepth
    body_q = ((x - bcx) / brx) ** 2 + body_v ** 2
    body = (body_q < 1) & (y >= brim)
    nb = np.sqrt(np.clip(1 - body_q, 0, 1))
    lam_b = np.clip(((x - bcx) / brx) * light[0] + np.clip(body_v, 0, 1) * light[1]
                    + nb * light[2], 0, 1)
    bowl_dark = np.where(body & ~rim_in, np.clip(0.95 * (1 - lam_b), 0, 1), 0)
    inner = np.clip(0.42 - 0.4 * (x - bcx + brx) / (2 * brx), 0.04, 1) + 0.15 * np.clip(
        (brim - y) / bry, 0, 1)
    bowl_dark = np.where(rim_in, inner, bowl_dark)
    bowl = rim_in | body

    # Apple: a slightly squat sphere with a dimple at the stem.
    acx, acy, ar = 1020.0, 640.0, 108.0
    ang = np.arctan2(y - acy, x - acx)
    rad = ar * (1 + 0.06 * np.cos(2 * ang)) - 16 * np.exp(-((ang + np.pi / 2) / 0.32) ** 2)
    dist = np.hypot(x - acx, y - acy)
    apple = dist < rad
    q = np.clip(dist / rad, 0, 1)
    na = np.stack([np.cos(ang) * q, np.sin(ang) * q, np.sqrt(1 - q ** 2)], -1)
    lam_a = np.clip(na @ light.astype(np.float32), 0, 1)
    apple_dark = np.clip(0.9 * (1 - lam_a) + 0.08, 0, 1)
    apple_dark -= 0.2 * np.clip((q - 0.8) / 0.2, 0, 1) * (np.cos(ang) > 0.2)
    apple_dark[((x - acx + 40) ** 2 + (y - acy + 45) ** 2) < 22 ** 2] *= 0.2  # highlight

    objects = vase | bowl | apple
    # Cast shadows fall back and to the right, on the table top.
    shadow = np.zeros((h, w), np.float32)
    for cx, cy, rx, ry, k in ((bcx + 210, 672, 220, 34, 0.75), (vcx + 170, 690, 200, 30, 0.8),
                              (acx + 95, 742, 135, 26, 0.85)):
        e = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        fade = np.clip(1.2 - (x - cx + rx) / (2 * rx), 0.3, 1)
        shadow = np.maximum(shadow, k * fade * np.clip((1 - e) * 3, 0, 1))
    table_y = 470.0 + (x - 700) * 0.01
    wall = (y < table_y) & ~objects
    halo = np.exp(-(((x - 720) / 520) ** 2 + ((y - 470) / 330) ** 2))
    wall_dark = 0.32 * halo * np.clip((table_y - y) / 60, 0, 1)
    dark = np.where(vase, vase_dark, 0) + np.where(bowl, bowl_dark, 0) + np.where(
        apple, apple_dark, 0)
    dark = np.where(objects, dark, np.where(wall, wall_dark, shadow)).astype(np.float32)
    dark = np.clip(dark, 0, 1)
    apple_mask = apple.astype(np.float32)

    # Soft rubbed graphite first, then three hatching layers, then contours.
    sheet.apply(blur(dark, 4) * 0.26, dark=1.0, grain=1.6)
    for angle, spacing, lo, gain, length, dk in ((58, 5.4, 0.06, 1.5, 80, 0.62),
                                                 (-28, 5.8, 0.38, 1.9, 60, 0.58),
                                                 (100, 6.2, 0.66, 2.6, 45, 0.55)):
        layer = sheet.layer()
        hatch(rng, layer, dark > lo, angle, spacing, length, width=1.5)
        field = np.clip((dark - lo) * gain, 0, 1)
        sheet.apply(layer.mask() * field, dark=dk, grain=0.9)
    # Curved contour hatching around the apple's shadow side.
    layer = sheet.layer()
    for k in range(26):
        a0 = -0.5 + k * 0.07
        pts = arc(acx, acy, ar * (0.55 + 0.4 * rng.uniform()), ar * 0.95,
                  a0, a0 + rng.uniform(0.9, 1.6), 30)
        layer.stroke(wobble(rng, pts, 0.6, 30), 0.6, rng.uniform(0.4, 0.8))
    sheet.apply(layer.mask() * apple_mask * np.clip(apple_dark * 1.4, 0, 1), dark=0.5, grain=1.2)

    def line(pts, width=1.7, dk=0.8, passes=2, **kw):
        pen_line(sheet, rng, pts, width=width, dark=dk, grain=0.45, passes=passes, **kw)

    # Faint construction lines first.
    line([(vcx, vtop - 60), (vcx, vbase + 40)], 0.9, 0.22, 1)
    line(arc(vcx, vbase, 88, 20, 0, 2 * np.pi, 80), 0.9, 0.2, 1)
    line(arc(bcx, brim + bdepth - 6, 70, 14, 0, 2 * np.pi, 60), 0.9, 0.2, 1)
    line([(60, 472), (1350, 465)], 0.9, 0.18, 1)
    # Table edge, interrupted by the objects.
    tx = np.arange(40, 1360, 2.0)
    ty = 470.0 + (tx - 700) * 0.01
    visible = ~objects[np.round(ty).astype(int), np.round(tx).astype(int)]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], visible.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a > 4:
            line(np.stack([tx[a:b], ty[a:b]], 1), 1.5, 0.6, 1)
    # Vase.
    ys_ = np.linspace(vtop, vbase, 120)
    rs = np.interp(ys_, prof[:, 0], prof[:, 1])
    line(np.stack([vcx - rs, ys_], 1), 1.8, 0.82, overshoot=6)
    line(np.stack([vcx + rs, ys_], 1), 2.0, 0.88, overshoot=6)
    line(arc(vcx, vtop, 60, 13, 0, 2 * np.pi, 90), 1.6, 0.8)
    line(arc(vcx, vtop, 50, 9, np.pi * 1.05, np.pi * 1.95, 40), 1.2, 0.6, 1)
    line(arc(vcx, vbase, 88, 20, 0.05, np.pi - 0.05, 60), 1.9, 0.85)
    # Bowl.
    line(arc(bcx, brim, brx, bry, 0, 2 * np.pi, 140), 1.8, 0.82, overshoot=8)
    line(arc(bcx, brim + 4, brx - 12, bry - 7, np.pi * 1.02, np.pi * 1.98, 80), 1.2, 0.55, 1)
    line(arc(bcx, brim, brx, bdepth, 0.02, np.pi - 0.02, 120), 2.0, 0.88)
    line(arc(bcx, brim + bdepth - 8, 70, 14, 0.1, np.pi - 0.1, 50), 1.6, 0.75)
    # Apple, stem and leaf.
    ta = np.linspace(-np.pi / 2 + 0.25, 3 * np.pi / 2 - 0.25, 160)
    ra = ar * (1 + 0.06 * np.cos(2 * ta)) - 16 * np.exp(-((ta + np.pi / 2) / 0.32) ** 2)
    line(np.stack([acx + ra * np.cos(ta), acy + ra * np.sin(ta)], 1), 2.0, 0.85)
    line(arc(acx, acy - ar + 18, 24, 8, 0.1, np.pi - 0.1, 30), 1.4, 0.7)
    stem = spline([(acx - 2, acy - ar + 20), (acx + 4, acy - ar - 5), (acx + 18, acy - ar - 30)])
    pen_line(sheet, rng, stem, width=5.5, dark=0.85, grain=0.6, taper=(0.02, 0.5))
    leaf_a = spline([(acx + 16, acy - ar - 22), (acx + 50, acy - ar - 48),
                     (acx + 100, acy - ar - 44)])
    leaf_b = spline([(acx + 16, acy - ar - 22), (acx + 60, acy - ar - 20),
                     (acx + 100, acy - ar - 44)])
    line(leaf_a, 1.5, 0.8)
    line(leaf_b, 1.5, 0.8)
    line(spline([(acx + 22, acy - ar - 24), (acx + 60, acy - ar - 34), (acx + 95, acy - ar - 43)]),
         1.0, 0.6, 1)

    paper = 0.955 + 0.014 * grain + 0.008 * unit_noise(rng, h, w, 60)
    return Image.fromarray(to_u8(paper * sheet.trans[..., 0]), mode="L")


def _runs(flags: np.ndarray, min_len: int = 2):
    """(start, stop) index pairs of the True runs in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_len]


def ink_landscape(rng) -> Image.Image:
    """Pen-and-ink landscape: layered hills drawn with contour lines, trees, a path, a sun."""
    w, h = 1400, 900
    grain = paper_grain(rng, h, w)
    sheet = Sheet(w, h)
    xs = np.arange(0.0, w, 2.0)

    def wavy(base, parts, noise_amp, corr):
        yv = np.full_like(xs, base)
        for amp, period, phase in parts:
            yv += amp * np.sin(2 * np.pi * xs / period + phase)
        return yv + noise_amp * smooth_noise(rng, len(xs), corr / 2)

    # Mountains: a jagged line through random peaks and saddles.
    kx = np.cumsum(rng.uniform(70, 150, 16)) - 60
    ky = np.where(np.arange(16) % 2 == 0, rng.uniform(150, 230, 16), rng.uniform(260, 320, 16))
    mountains = np.interp(xs, kx, ky) + 3 * smooth_noise(rng, len(xs), 4)
    ridges = [mountains,
              wavy(400, [(28, 700, 0.4), (12, 260, 1.0)], 6, 60),
              wavy(505, [(55, 1100, 2.2), (18, 330, 0.3)], 6, 80),
              wavy(640, [(-70, 1500, 0.9), (20, 420, 2.0)], 8, 90)]
    inside = (xs > 40) & (xs < w - 40)

    def front_of(k):
        """Nearest surface in front of ridge k at each x (the frame bottom if none)."""
        f = np.full_like(xs, h - 40.0)
        for j in range(k + 1, len(ridges)):
            f = np.minimum(f, ridges[j])
        return f

    def draw_visible(yv, limit, width, dark=0.92, breaks=True, keep=None):
        ok = inside & (yv < limit - 1) & (yv > 40)
        if keep is not None:
            ok &= keep
        for a, b in _runs(ok, 4):
            pos = a
            while pos < b:
                n = b - pos if not breaks else int(rng.integers(40, 160))
                end = min(pos + n, b)
                if end - pos >= 4:
                    pen_line(sheet, rng, np.stack([xs[pos:end], yv[pos:end]], 1), width=width,
                             dark=dark, amp=0.6, corr=80, taper=(0.05, 0.1), vary=0.25)
                pos = end + (int(rng.integers(2, 7)) if breaks else 0)

    # Ridge lines, heavier towards the viewer.
    for k, yv in enumerate(ridges):
        draw_visible(yv, front_of(k), 1.6 + 0.5 * k, breaks=False)
    # The path winding up the near hill (contour lines stop at its edges).
    py = np.linspace(h - 40, np.interp(760, xs, ridges[3]) + 4, 60)
    t = (py - py[0]) / (py[-1] - py[0])
    centre = 620 + 140 * np.sin(t * 2.4) + 140 * t
    half = 150 * (1 - t) ** 1.6 + 4

    def off_path(yv):
        c = np.interp(yv, py[::-1], centre[::-1])
        hw = np.interp(yv, py[::-1], half[::-1])
        return (np.abs(xs - c) > hw + 3) | (yv < py[-1])

    # Contour lines following each hill, spreading out towards the viewer;
    # each covers only part of the hill, as a pen would.
    for k in (1, 2, 3):
        limit = front_of(k)
        gap = (11, 16, 22)[k - 1]
        for j in range(1, 40):
            off = gap * j ** 1.12
            yv = ridges[k] + off + 4 * smooth_noise(rng, len(xs), 50)
            yv = yv - 0.12 * off * np.cos(2 * np.pi * xs / (900 + 200 * k) + k)
            if np.all(yv > limit):
                break
            mid, span = rng.uniform(0, w), rng.uniform(350, 1300)
            keep = np.abs(xs - mid) < span / 2
            if k == 3:
                keep &= off_path(yv)
            draw_visible(yv, limit, 1.0 + 0.25 * k, dark=0.85, keep=keep)
    # Shadow hatching on the mountains' right-hand slopes.
    layer = sheet.layer()
    for i in range(1, 15, 2):
        px, vx = kx[i - 1], kx[i]  # from a peak down to the next saddle
        for frac in np.linspace(0.1, 0.9, int((vx - px) / 9)):
            sx = px + frac * (vx - px)
            sy = np.interp(sx, xs, mountains) + 3
            if sx < 50 or sx > w - 50 or sy > ridges[1][int(sx / 2)] - 6:
                continue
            run = rng.uniform(20, 45)
            pts = wobble(rng, [(sx, sy), (sx - run * 0.35, sy + run)], 0.4, 30)
            layer.stroke(pts, 0.55 * pressure(rng, len(pts), start=0.05, end=0.5), 0.9)
    sheet.apply(layer.mask(), dark=0.9)
    # Conifers on the middle hill.
    for tx in (300, 345, 372, 930, 965, 1005, 1040, 1180):
        tx = tx + rng.uniform(-8, 8)
        base = float(np.interp(tx, xs, ridges[2])) + 6
        if base > np.interp(tx, xs, front_of(2)) - 4:
            continue
        size = rng.uniform(50, 90)
        pen_line(sheet, rng, [(tx, base + 8), (tx, base - size)], width=1.8, amp=0.3)
        tiers = int(size / 11)
        for i in range(tiers):
            yy = base - size + (i + 1) * size / (tiers + 1)
            reach = 4 + (i + 1) * size * 0.32 / tiers
            for sgn in (-1, 1):
                pen_line(sheet, rng, [(tx, yy - 6), (tx + sgn * reach, yy + 4)], width=1.5,
                         amp=0.3, taper=(0.05, 0.4))
    for sgn in (-1, 1):
        pen_line(sheet, rng, np.stack([centre + sgn * half, py], 1), width=2.0, amp=0.8)
    for _ in range(40):  # stones and ruts along the path
        tt = rng.uniform(0.05, 0.9)
        cy_ = np.interp(tt, t, py)
        cx_ = np.interp(tt, t, centre) + rng.uniform(-0.7, 0.7) * np.interp(tt, t, half)
        r = 5 * (1 - tt) + 1.5
        pen_line(sheet, rng, arc(cx_, cy_, r * 1.6, r * 0.7, 3.4, 6.0, 12), width=1.1, amp=0.2)
    # Grass tufts in the foreground.
    for _ in range(28):
        gx, gy = rng.uniform(80, w - 80), rng.uniform(h - 190, h - 60)
        if abs(gx - 620) < 180:
            continue
        for _ in range(5):
            ang = rng.uniform(-0.5, 0.5)
            ln = rng.uniform(12, 26)
            pen_line(sheet, rng, [(gx, gy), (gx + ln * np.sin(ang) * 1.5, gy - ln)], width=1.4,
                     amp=0.3, taper=(0.02, 0.8))
    # Sun with rays, clouds, birds.
    sx, sy, sr = 1080.0, 150.0, 48.0
    pen_line(sheet, rng, arc(sx, sy, sr, sr, -1.4, 2 * np.pi - 1.2, 90), width=2.0, amp=0.6)
    for a in np.linspace(0, 2 * np.pi, 15, endpoint=False):
        r0, r1 = sr + 12, sr + 12 + rng.uniform(16, 30)
        pen_line(sheet, rng, [(sx + r0 * np.cos(a), sy + r0 * np.sin(a)),
                              (sx + r1 * np.cos(a), sy + r1 * np.sin(a))], width=1.6, amp=0.2)
    for cx_, cy_, n in ((330, 120, 5), (720, 90, 4)):
        top = [(cx_ - 34, cy_ + 4)]
        for i in range(n):
            lift = 26 if 0 < i < n - 1 else 14
            top += [(cx_ + i * 38 - 8, cy_ - lift), (cx_ + i * 38 + 14, cy_ - lift + 6)]
        top += [(cx_ + (n - 1) * 38 + 34, cy_ + 4)]
        pen_line(sheet, rng, spline(top, 10), width=1.7, amp=0.6)
        pen_line(sheet, rng, [(cx_ - 40, cy_ + 6), (cx_ + (n - 1) * 38 + 44, cy_ + 6)],
                 width=1.4, amp=1.0, taper=(0.3, 0.3))
    for bx, by, s in ((560, 210, 14), (600, 190, 10), (640, 225, 12), (880, 160, 9)):
        pen_line(sheet, rng, spline([(bx - s, by - s * 0.3), (bx - s * 0.4, by - s * 0.5),
                                     (bx, by)]), width=1.5, amp=0.2)
        pen_line(sheet, rng, spline([(bx, by), (bx + s * 0.4, by - s * 0.6),
                                     (bx + s, by - s * 0.35)]), width=1.5, amp=0.2)
    # Frame.
    for a, b in (((40, 40), (w - 40, 40)), ((w - 40, 40), (w - 40, h - 40)),
                 ((w - 40, h - 40), (40, h - 40)), ((40, h - 40), (40, 40))):
        pen_line(sheet, rng, [a, b], width=2.2, amp=0.8, overshoot=8)
    paper = 0.975 + 0.01 * grain
    return Image.fromarray(to_u8(paper * sheet.trans[..., 0]), mode="L")


def _lerp_colours(stops, t):
    """Colours (..., 3) at t in [0, 1] along evenly spaced RGB stops."""
    stops = np.asarray(stops, dtype=np.float32)
    pos = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(t, pos, stops[:, c]) for c in range(3)], -1).astype(np.float32)


def marker_balloons(rng) -> Image.Image:
    """Alcohol-marker drawing: hot-air balloons in a sunset, fineliner outlines."""
    w, h = 1300, 950
    grain = paper_grain(rng, h, w)
    sheet = Sheet(w, h, channels=3)
    y, x = grid(h, w)
    xs = np.arange(0.0, w, 2.0)
    hill_far = 700 + 35 * np.sin(xs / 210 + 0.5) + 20 * np.sin(xs / 90)
    hill_near = 800 - 60 * np.exp(-((xs - 950) / 330) ** 2) + 25 * np.sin(xs / 150 + 2)
    far_y = np.interp(x[0], xs, hill_far)[None, :]
    near_y = np.interp(x[0], xs, hill_near)[None, :]

    def envelope(cx, cy, r):
        """Half-width of a balloon envelope at each row, and its mask."""
        top = y[:, :1] - cy
        t = np.clip(top / (1.25 * r), 0, 1)
        half = np.where(top < 0, np.sqrt(np.clip(r ** 2 - top ** 2, 0, None)),
                        r * (0.22 + 0.78 * np.clip(np.cos(t * np.pi / 2), 0, 1) ** 1.3))
        half = np.where(top > 1.25 * r, 0, half)
        return half, np.abs(x - cx) < half

    balloons = [(560.0, 360.0, 190.0, 8), (1010.0, 250.0, 85.0, 6), (860.0, 520.0, 34.0, 4)]
    masks = [envelope(cx, cy, r) for cx, cy, r, _ in balloons]
    any_balloon = np.zeros((h, w), bool)
    for _, m in masks:
        any_balloon |= m
    sun = np.hypot(x - 250, y - 660) < 95
    sky = (y < far_y) & ~any_balloon
    soft = lambda m: blur(m.astype(np.float32), 1.0)  # noqa: E731

    def streaks(region, colour_at, *, angle=0.0, width=24.0, spacing=19.0, alpha=0.78,
                length=(260, 520)):
        """Colour a region with broad marker strokes; where they overlap the dye builds up."""
        ys_, xs_ = np.nonzero(region)
        if len(xs_) == 0:
            return
        clip = soft(region)
        wet, overlap = sheet.layer(), sheet.layer()
        th = np.deg2rad(angle)
        d = np.array([np.cos(th), np.sin(th)])
        nrm = np.array([-np.sin(th), np.cos(th)])
        pts = np.stack([xs_, ys_], 1).astype(np.float64)
        pp, aa = pts @ nrm, pts @ d
        off = pp.min() - width / 3
        while off < pp.max() + width / 3:
            pos = aa.min() - rng.uniform(10, 60)
            while pos < aa.max():
                seg = rng.uniform(*length)
                p0 = off * nrm + pos * d
                p1 = off * nrm + (pos + seg) * d
                line = wobble(rng, [p0, p1], amp=1.5, corr=200, step=4)
                hw = 0.5 * width * pressure(rng, len(line), start=0.02, end=0.03, floor=0.7,
                                            vary=0.05)
                wet.stroke(line, hw, 1.0)
                if rng.uniform() < 0.35:  # a second pass, off-line: a darker streak
                    overlap.stroke(line + nrm * rng.uniform(-0.5, 0.5) * width, hw * 0.8, 1.0)
                pos += seg - rng.uniform(5, 30)
            off += spacing * rng.uniform(0.85, 1.15)
        colour = colour_at(x, y)
        sheet.apply(wet.mask(), dark=alpha, colour=colour, clip=clip)
        sheet.apply(overlap.mask(), dark=0.25 * alpha, colour=colour, clip=clip)

    sky_stops = [(0.42, 0.36, 0.78), (0.86, 0.45, 0.72), (1.0, 0.5, 0.45), (1.0, 0.72, 0.3),
                 (1.0, 0.92, 0.45)]
    streaks(sky, lambda px, py: _lerp_colours(sky_stops, np.clip(py / 720, 0, 1)), angle=-4)
    streaks(sun & (y < far_y), lambda px, py: (1.0, 0.82, 0.25), angle=-4)
    streaks(sun & (y < far_y) & (np.hypot(x - 250, y - 660) > 70),
            lambda px, py: (1.0, 0.6, 0.2), angle=-4, alpha=0.4, width=14, spacing=12)
    far = (y >= far_y) & (y < near_y)
    streaks(far, lambda px, py: _lerp_colours([(0.45, 0.62, 0.7), (0.35, 0.6, 0.5)],
                                              np.clip((py - 650) / 200, 0, 1)), angle=-12)
    near = y >= near_y
    streaks(near, lambda px, py: _lerp_colours([(0.7, 0.85, 0.3), (0.3, 0.65, 0.3),
                                                (0.15, 0.42, 0.3)],
                                               np.clip((py - 720) / 230, 0, 1)), angle=12)
    # Balloon gores: alternating colour families, each a gradient from top to bottom.
    families = [[(0.95, 0.2, 0.25), (1.0, 0.55, 0.2)], [(1.0, 0.85, 0.2), (1.0, 0.65, 0.25)],
                [(0.15, 0.55, 0.9), (0.25, 0.8, 0.75)], [(0.98, 0.96, 0.9), (0.9, 0.88, 0.85)]]
    for (cx, cy, r, gores), (half, m) in zip(balloons, masks, strict=True):
        u = np.clip((x - cx) / np.maximum(half, 1), -1, 1)
        phi = np.arcsin(u)
        idx = np.clip(((phi + np.pi / 2) / np.pi * gores).astype(int), 0, gores - 1)
        for g in range(gores):
            fam = families[(g + int(r)) % len(families)] if r < 100 else families[g % 4]
            region = m & (idx == g)
            streaks(region, lambda px, py, fam=fam, cy=cy, r=r: _lerp_colours(
                fam, np.clip((py - cy + r) / (2.2 * r), 0, 1)), angle=88,
                width=max(8.0, r / 8), spacing=max(7.0, r / 9), length=(r, 2.4 * r))
        # Cool-grey marker over the shadow side, twice where it is deepest.
        for lo, a in ((0.3, 0.3), (0.65, 0.3)):
            streaks(m & (u > lo), lambda px, py: (0.62, 0.6, 0.72), angle=80, alpha=a,
                    width=max(8.0, r / 7), spacing=max(7.0, r / 8), length=(r, 2.2 * r))

    def liner(pts, width=2.0, passes=1):
        pen_line(sheet, rng, pts, width=width, dark=0.95, amp=0.6, corr=70, passes=passes,
                 colour=(0.05, 0.05, 0.08))

    for (cx, cy, r, gores), (half, _m) in zip(balloons, masks, strict=True):
        rows = np.arange(int(cy - r) + 1, int(cy + 1.25 * r))
        hw_rows = half[rows, 0]
        keep = hw_rows > 0
        rows, hw_rows = rows[keep], hw_rows[keep]
        scale = r / 190
        for sgn in (-1, 1):
            liner(np.stack([cx + sgn * hw_rows, rows], 1), 2.6 * scale + 0.8)
        for g in range(1, gores):
            phi = -np.pi / 2 + g * np.pi / gores
            liner(np.stack([cx + hw_rows * np.sin(phi), rows], 1), 1.6 * scale + 0.6)
        mouth_y, mouth = rows[-1], hw_rows[-1]
        liner(arc(cx, mouth_y, mouth, mouth * 0.25, 0, np.pi, 24), 1.8 * scale + 0.6)
        basket_top = mouth_y + 0.35 * r
        bw = 0.13 * r
        for sgn in (-1, 1):
            liner([(cx + sgn * mouth * 0.9, mouth_y + 2), (cx + sgn * bw, basket_top)],
                  1.2 * scale + 0.5)
        bottom = basket_top + bw * 1.3
        box = [(cx - bw, basket_top), (cx + bw, basket_top), (cx + bw * 0.85, bottom),
               (cx - bw * 0.85, bottom), (cx - bw, basket_top)]
        basket = np.zeros((h, w), np.uint8)
        cv2.fillPoly(basket, [np.round(np.array(box)).astype(np.int32)], 1)
        streaks(basket.astype(bool), lambda px, py: (0.6, 0.4, 0.2), angle=90, width=8,
                spacing=7, length=(20, 40))
        liner(box, 2.0 * scale + 0.6)
        for k in range(1, 4):  # wicker weave
            yy = basket_top + k * bw * 1.3 / 4
            liner([(cx - bw * 0.9, yy), (cx + bw * 0.9, yy)], 0.8 * scale + 0.4)
    # Hills, sun, birds.
    inside = (xs > 0) & (xs < w)
    liner(np.stack([xs[inside], hill_far[inside]], 1), 2.2)
    liner(np.stack([xs[inside], hill_near[inside]], 1), 2.4)
    sx = np.linspace(0, 2 * np.pi, 90)
    sun_pts = np.stack([250 + 95 * np.cos(sx), 660 + 95 * np.sin(sx)], 1)
    vis = sun_pts[:, 1] < np.interp(sun_pts[:, 0], xs, hill_far) - 1
    for a, b in _runs(vis, 3):
        liner(sun_pts[a:b], 2.0)
    for bx, by, sc in ((180, 200, 16), (230, 170, 12), (270, 215, 10)):
        liner(spline([(bx - sc, by - sc * 0.3), (bx - sc * 0.4, by - sc * 0.6), (bx, by)]), 1.8)
        liner(spline([(bx, by), (bx + sc * 0.4, by - sc * 0.6), (bx + sc, by - sc * 0.3)]), 1.8)
    paper = 0.965 + 0.01 * grain
    rgb = paper[..., None] * sheet.trans * np.array([1.0, 0.995, 0.985], np.float32)
    return Image.fromarray(to_u8(rgb), mode="RGB")


def portrait_sketch(rng, w: int, h: int) -> np.ndarray:
    """A pencil line sketch of a head and shoulders; returns the graphite transmittance."""
    grain = paper_grain(rng, h, w)
    tooth = np.clip(0.7 + 0.22 * grain, 0.05, 1.0)
    sheet = Sheet(w, h, tooth=tooth)
    y, x = grid(h, w)
    cx = w / 2

    def line(pts, width=1.8, dk=0.8, passes=1, n_per=12, **kw):
        pts = spline(pts, n_per) if len(pts) > 2 else np.asarray(pts, float)
        pen_line(sheet, rng, pts, width=width, dark=dk, grain=0.5, passes=passes, **kw)

    # Construction lines: centre line, eye line, nose and mouth lines, head oval.
    line([(cx + 8, 250), (cx - 6, 760)], 0.9, 0.18)
    for yy in (470, 585, 650):
        line([(cx - 170, yy), (cx + 170, yy + 3)], 0.9, 0.16)
    line(arc(cx, 450, 165, 215, 0, 2 * np.pi, 90), 0.9, 0.16)
    # Face outline (jaw and chin), ears.
    face = [(cx - 160, 420), (cx - 158, 500), (cx - 140, 590), (cx - 105, 665), (cx - 50, 718),
            (cx + 5, 730), (cx + 60, 712), (cx + 112, 660), (cx + 145, 585), (cx + 160, 500),
            (cx + 162, 420)]
    line(face, 2.0, 0.82, passes=2)
    for sgn in (-1, 1):
        ear = [(cx + sgn * 158, 455), (cx + sgn * 182, 440), (cx + sgn * 192, 480),
               (cx + sgn * 182, 540), (cx + sgn * 158, 565)]
        line(ear, 1.8, 0.75)
        line([(cx + sgn * 172, 465), (cx + sgn * 178, 500), (cx + sgn * 168, 530)], 1.2, 0.5)
    # Hair: strokes that hug the skull from the parting, then fall to the shoulders.
    def strand(side, vol, th0, th1, drop, drift):
        th = np.linspace(th0, th1, 8)
        pts = np.stack([cx + side * (165 + vol) * np.sin(th), 450 - (215 + vol) * np.cos(th)], 1)
        if drop > pts[-1, 1] + 10:
            tail = [pts[-1] + (side * drift * f, (drop - pts[-1, 1]) * f) for f in (0.5, 1.0)]
            pts = np.vstack([pts, tail])
        return pts

    for k in range(110):
        side = 1 if k % 2 else -1
        vol = rng.uniform(4, 38)
        long_ = rng.uniform() < 0.7
        pts = strand(side, vol, rng.uniform(0.03, 0.3), rng.uniform(1.25, 1.7),
                     rng.uniform(560, 720) if long_ else 0, rng.uniform(0, 35))
        line(pts, rng.uniform(1.0, 2.0), rng.uniform(0.35, 0.8), n_per=8, taper=(0.05, 0.5),
             corr=90)
    for _ in range(18):  # a side-swept fringe, darker at the parting
        vol = rng.uniform(-40, -5)
        line(strand(-1, vol, rng.uniform(-0.12, 0.05), rng.uniform(0.8, 1.15), 0, 0),
             rng.uniform(1.2, 2.2), rng.uniform(0.5, 0.85), n_per=8, taper=(0.05, 0.6))
    line(strand(-1, 40, 0.0, 1.6, 700, 30), 2.2, 0.85, n_per=8)
    line(strand(1, 40, 0.0, 1.6, 700, 30), 2.2, 0.85, n_per=8)
    # Eyes, brows.
    for sgn in (-1, 1):
        ex = cx + sgn * 72
        upper = [(ex - 40, 474), (ex - 18, 456), (ex + 12, 454), (ex + 42, 470)]
        lower = [(ex - 38, 476), (ex - 10, 488), (ex + 18, 488), (ex + 40, 472)]
        if sgn < 0:
            upper = [(2 * ex - px, py) for px, py in upper][::-1]
            lower = [(2 * ex - px, py) for px, py in lower][::-1]
        line(upper, 2.4, 0.88)
        line(lower, 1.3, 0.6)
        line([(p[0], p[1] - 12) for p in upper[1:]], 1.1, 0.45)  # lid crease
        sheet.stroke(*_disc(ex, 471, 15), dark=0.55, grain=0.8)
        sheet.stroke(*_disc(ex, 471, 6.5), dark=0.9, grain=0.3)
        sheet.stroke(*_disc(ex - 5, 466, 3.5), dark=-0.9)  # eraser highlight
        brow = [(ex - sgn * 48, 428), (ex - sgn * 10, 414), (ex + sgn * 30, 416),
                (ex + sgn * 52, 430)]
        for _ in range(3):
            line(brow, rng.uniform(2.5, 3.5), 0.6, taper=(0.05, 0.6))
    # Nose and mouth.
    line([(cx - 16, 478), (cx - 22, 530), (cx - 26, 575)], 1.4, 0.5)
    line([(cx - 36, 585), (cx - 28, 598), (cx - 12, 600)], 1.8, 0.8)
    line([(cx + 12, 600), (cx + 28, 598), (cx + 38, 586)], 1.8, 0.8)
    line([(cx - 10, 604), (cx + 2, 608), (cx + 12, 604)], 1.4, 0.6)
    line([(cx - 52, 652), (cx - 20, 646), (cx, 650), (cx + 22, 646), (cx + 54, 653)], 2.2, 0.85)
    line([(cx - 46, 650), (cx - 22, 636), (cx - 6, 640), (cx + 4, 637), (cx + 24, 636),
          (cx + 48, 650)], 1.3, 0.55)
    line([(cx - 34, 668), (cx, 676), (cx + 34, 667)], 1.5, 0.55)
    # Neck, shoulders, collar.
    line([(cx - 82, 690), (cx - 88, 780), (cx - 95, 850)], 2.0, 0.8)
    line([(cx + 80, 688), (cx + 86, 780), (cx + 96, 850)], 2.0, 0.8)
    line([(cx - 95, 850), (cx - 220, 890), (cx - 340, 960), (cx - 400, 1100)], 2.2, 0.8)
    line([(cx + 96, 850), (cx + 220, 888), (cx + 345, 958), (cx + 405, 1100)], 2.2, 0.8)
    line([(cx - 130, 862), (cx - 40, 940), (cx, 955), (cx + 40, 940), (cx + 130, 862)], 1.8, 0.7)
    # Hatching: the face's shadow side (light from the left), under the chin, the neck.
    head = ((x - cx) / 162) ** 2 + ((y - 470) / 255) ** 2
    u = (x - cx) / 162
    shade = np.where(head < 1, np.clip((u - 0.15) * 1.1, 0, 1) * np.clip(1.3 - head, 0, 1), 0)
    neck = (np.abs(x - cx) < 88) & (y > 700) & (y < 850)
    shade = np.maximum(shade, np.where(neck, np.clip((760 - y) / 60, 0, 1) * 0.8, 0))
    sockets = np.exp(-(((np.abs(x - cx) - 72) / 40) ** 2 + ((y - 462) / 22) ** 2)) * 0.45
    nose = np.exp(-(((x - cx - 12) / 30) ** 2 + ((y - 620) / 10) ** 2)) * 0.6
    shade = np.clip(np.maximum(shade, np.maximum(sockets, nose)), 0, 1).astype(np.float32)
    for angle, lo, gain in ((62, 0.05, 1.3), (-20, 0.45, 1.8)):
        layer = sheet.layer()
        hatch(rng, layer, shade > lo, angle, 5.5, 45, width=1.4)
        sheet.apply(layer.mask() * np.clip((shade - lo) * gain, 0, 1), dark=0.6, grain=1.0)
    sheet.apply(blur(shade, 5) * 0.18, dark=1.0, grain=1.5)
    # Signature.
    line([(w - 220, h - 90), (w - 200, h - 120), (w - 190, h - 88), (w - 170, h - 118),
          (w - 150, h - 92), (w - 110, h - 100)], 1.6, 0.7)
    return sheet.trans[..., 0], grain


def _disc(cx, cy, r):
    """A stroke along a diameter whose half-width traces a disc of radius r."""
    t = np.linspace(-1, 1, 24)
    return np.stack([cx + r * t, np.full_like(t, cy)], 1), r * np.sqrt(np.clip(1 - t ** 2, 0, 1))


def photo_portrait(rng) -> Image.Image:
    """A phone photo of the portrait sketch, stored sideways with EXIF orientation 6."""
    w, h = 900, 1200
    graphite, grain = portrait_sketch(rng, w, h)
    y, x = grid(h, w)
    # The sheet lies slightly askew on a wooden desk that shows at the left and bottom.
    theta = np.deg2rad(1.6)
    px = (x - 40) * np.cos(theta) + (y - 10) * np.sin(theta)
    py = -(x - 40) * np.sin(theta) + (y - 10) * np.cos(theta)
    on_paper = blur(((px > 0) & (px < 880) & (py > 0) & (py < 1165)).astype(np.float32), 1.2)
    src_x = np.clip(px * w / 880, 0, w - 1).astype(np.float32)
    src_y = np.clip(py * h / 1165, 0, h - 1).astype(np.float32)
    drawing = cv2.remap(graphite, src_x, src_y, cv2.INTER_LINEAR)
    paper_tex = cv2.remap(grain, src_x, src_y, cv2.INTER_LINEAR)
    warm = np.array([0.97, 0.92, 0.82], np.float32)
    paper = (warm * (0.97 + 0.012 * paper_tex)[..., None]) * drawing[..., None]
    wood_tone = 0.5 + 0.5 * np.sin(x / 9 + 3 * unit_noise(rng, h, w, 30.0, 4.0)) * 0.3
    wood = np.array([0.42, 0.29, 0.19], np.float32) * (0.85 + 0.3 * wood_tone)[..., None]
    shadow = 1 - 0.35 * blur(((px > -6) & (py < 1172)).astype(np.float32), 8)  # paper's shadow
    wood = wood * (shadow * (1 - on_paper) + on_paper)[..., None]
    img = paper * on_paper[..., None] + wood * (1 - on_paper[..., None])
    # Uneven light: a window at the top left, a soft phone shadow at the bottom right.
    light = 1.02 - 0.22 * ((x / w) * 0.6 + (y / h) * 0.8) / 1.4
    light -= 0.1 * np.exp(-(((x - 760) / 200) ** 2 + ((y - 1150) / 160) ** 2))
    img = blur(img * light[..., None], 0.7)
    img = img + rng.normal(0, 0.012, img.shape).astype(np.float32)
    upright = Image.fromarray(to_u8(img), mode="RGB")
    # Orientation 6: the viewer rotates 90 degrees clockwise, so store it turned counter-clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "sketchgrad sample"  # Make
    stored.info["exif"] = exif.tobytes()
    return stored


def _poly_mask(h: int, w: int, pts) -> np.ndarray:
    """Anti-aliased coverage of a polygon, float32 in [0, 1]."""
    img = Image.new("L", (w * SS, h * SS), 0)
    ImageDraw.Draw(img).polygon((np.asarray(pts, float) * SS).ravel().tolist(), fill=255)
    return np.asarray(img.reduce(SS), dtype=np.float32) / 255


def _meet(p, q, r, s):
    """Intersection of line p-q with line r-s."""
    p, q, r, s = (np.asarray(v, float) for v in (p, q, r, s))
    d1, d2 = q - p, s - r
    def cross(u, v):
        return u[0] * v[1] - u[1] * v[0]

    t = cross(r - p, d2) / cross(d1, d2)
    return p + t * d1


def cube_16bit(rng) -> np.ndarray:
    """Blended-graphite cube and sphere in two-point perspective, as 16-bit grey."""
    w, h = 1024, 768
    y, x = grid(h, w)
    horizon = 210.0
    vl, vr = np.array([-520.0, horizon]), np.array([1650.0, horizon])
    a_top, a_bot = np.array([540.0, 262.0]), np.array([540.0, 600.0])
    l_top, l_bot = _meet(a_top, vl, (345, 0), (345, 1)), _meet(a_bot, vl, (345, 0), (345, 1))
    r_top, r_bot = _meet(a_top, vr, (760, 0), (760, 1)), _meet(a_bot, vr, (760, 0), (760, 1))
    back = _meet(l_top, vr, r_top, vl)
    left_face = [a_top, l_top, l_bot, a_bot]
    right_face = [a_top, r_top, r_bot, a_bot]
    top_face = [a_top, l_top, back, r_top]
    # Paper with a soft vignette and a ground plane a little darker towards the viewer.
    tone = 0.93 - 0.06 * (((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2) * 2
    tone -= 0.05 * np.clip((y - horizon) / (h - horizon), 0, 1)
    # Soft cast shadows (light from the upper left), blurred for a penumbra.
    s_dir = np.array([1.0, -0.1]) * 300
    shadow_poly = [l_bot, a_bot, r_bot, r_bot + s_dir, a_bot + s_dir * 0.9]
    shadow = blur(_poly_mask(h, w, shadow_poly), 10)
    fade = np.clip(1 - (x - a_bot[0]) / 520, 0.25, 1)
    scx, scy, sr = 165.0, 560.0, 95.0
    sphere_shadow = blur(((((x - scx - 70) / 120) ** 2 + ((y - scy - sr + 12) / 22) ** 2) < 1)
                         .astype(np.float32), 9)
    tone = tone - 0.45 * shadow * fade - 0.3 * sphere_shadow
    # Faces: each a smooth gradient, as rubbed graphite.
    top_m, left_m, right_m = (_poly_mask(h, w, f) for f in (top_face, left_face, right_face))
    top_tone = 0.88 - 0.1 * np.clip((a_top[1] - y) / (a_top[1] - back[1]), 0, 1)
    left_tone = 0.7 + 0.08 * (x - l_top[0]) / (a_top[0] - l_top[0]) - 0.06 * (y - 300) / 300
    right_tone = 0.34 + 0.1 * np.clip((y - 320) / 300, 0, 1) + 0.05 * (x - a_top[0]) / 240
    for m, t in ((top_m, top_tone), (left_m, left_tone), (right_m, right_tone)):
        tone = tone * (1 - m) + t * m
    # Sphere with light, core shadow, reflected light and a highlight.
    dist = np.hypot(x - scx, y - scy) / sr
    inside = np.clip((1 - dist) * sr, 0, 1)
    q = np.clip(dist, 0, 1)
    ang = np.arctan2(y - scy, x - scx)
    n = np.stack([np.cos(ang) * q, np.sin(ang) * q, np.sqrt(1 - q ** 2)], -1)
    light = np.array([-0.55, -0.55, 0.63], np.float32)
    light /= np.linalg.norm(light)
    lam = n @ light
    sph = 0.2 + 0.7 * np.clip(lam, 0, 1) + 0.1 * np.clip(-lam, 0, 1) * (np.cos(ang) > 0)
    sph += 0.12 * np.exp(-(((x - scx + 35) / 14) ** 2 + ((y - scy + 35) / 14) ** 2))
    tone = tone * (1 - inside) + sph * inside
    # Blending-stump streaks along the faces and a graphite grain finer than 8 bits.
    streak = unit_noise(rng, h, w, 14.0, 2.0)
    tone = tone + 0.007 * streak * np.clip(left_m + right_m + top_m + inside, 0, 1)
    tone = tone + 0.0025 * unit_noise(rng, h, w, 0.8)
    # Pencil lines on top: edges, then faint construction lines to the vanishing points.
    sheet = Sheet(w, h)
    for a, b in ((a_top, a_bot), (l_top, l_bot), (r_top, r_bot), (a_top, l_top), (a_top, r_top),
                 (l_top, back), (r_top, back), (a_bot, l_bot), (a_bot, r_bot)):
        pen_line(sheet, rng, [a, b], width=1.8, dark=0.6, amp=0.5, overshoot=10)
    for a, vp in ((l_top, vl), (l_bot, vl), (r_top, vr), (r_bot, vr), (back, vl), (back, vr)):
        far = a + (vp - a) * rng.uniform(0.08, 0.16)
        pen_line(sheet, rng, [a, far], width=1.0, dark=0.25, amp=0.3)
    pen_line(sheet, rng, [(40, horizon), (w - 40, horizon)], width=1.0, dark=0.22, amp=0.8)
    pen_line(sheet, rng, arc(scx, scy, sr, sr, 0, 2 * np.pi, 100), width=1.6, dark=0.5)
    img = np.clip(tone * sheet.trans[..., 0], 0, 1)
    return np.round(img * 65535).astype(np.uint16)


def ink_bird_rgba(rng) -> Image.Image:
    """Brush-pen bird on a leafy branch, ink on a transparent background."""
    w, h = 1000, 800
    sheet = Sheet(w, h)

    def brush(pts, width=4.0, n_per=12, **kw):
        pts = spline(pts, n_per) if len(pts) > 2 else np.asarray(pts, float)
        pen_line(sheet, rng, pts, width=width, dark=0.97, amp=0.5, corr=80,
                 taper=kw.pop("taper", (0.15, 0.35)), vary=0.3, **kw)

    # Branch with a twig.
    brush([(40, 640), (250, 600), (480, 585), (700, 560), (960, 500)], 14, taper=(0.02, 0.9))
    brush([(42, 655), (260, 618), (470, 600)], 4, taper=(0.05, 0.8))
    brush([(620, 570), (700, 620), (760, 690)], 6, taper=(0.05, 0.9))
    # Leaves: two curved edges, a midrib and veins.
    for bx, by, ang, ln in ((180, 612, 2.3, 120), (330, 596, 1.9, 110), (800, 545, 0.9, 120),
                            (905, 512, 0.5, 90), (720, 640, 1.3, 95), (470, 590, 1.6, 90)):
        d = np.array([np.cos(ang), np.sin(ang)])
        nrm = np.array([-d[1], d[0]])
        base = np.array([bx, by], float)
        tip = base + d * ln
        for sgn in (-1, 1):
            brush([base, base + d * ln * 0.35 + sgn * nrm * ln * 0.22,
                   base + d * ln * 0.75 + sgn * nrm * ln * 0.14, tip], 3.0)
        brush([base - d * 10, tip - d * 6], 1.6)
        for f in (0.3, 0.5, 0.7):
            mid = base + d * ln * f
            for sgn in (-1, 1):
                brush([mid, mid + d * ln * 0.12 + sgn * nrm * ln * 0.13], 1.2,
                      taper=(0.05, 0.8))
    # The bird: head, back, tail, belly, wing, beak, eye, legs.
    brush(arc(470, 330, 62, 58, np.pi * 0.95, np.pi * 2.25, 50), 6)
    brush([(525, 355), (600, 345), (680, 380), (760, 440), (880, 520)], 6)
    brush([(420, 360), (425, 420), (470, 480), (560, 520), (680, 515), (790, 500), (885, 530)],
          6)
    brush([(880, 520), (905, 545), (885, 530)], 5)
    brush([(600, 380), (650, 420), (720, 470), (790, 505)], 4.5)
    brush([(560, 370), (600, 380)], 4.5)
    for k in range(6):  # wing feathers
        f = k / 6
        start = np.array([600 + 150 * f, 385 + 85 * f])
        brush([start, start + (40, 55 - 4 * k), start + (70 - 5 * k, 70 - 6 * k)], 3,
              taper=(0.05, 0.7))
    for k in range(4):  # tail feathers
        brush([(770, 470 + 8 * k), (850, 515 + 6 * k), (935, 545 + 10 * k)], 3.5,
              taper=(0.1, 0.6))
    brush([(410, 318), (368, 330), (412, 342)], 4, n_per=8)
    brush([(412, 332), (386, 331)], 2)
    sheet.stroke(*_disc(445, 318, 9), dark=0.97)
    sheet.stroke(*_disc(442, 315, 3), dark=-0.97)
    brush(arc(445, 318, 14, 14, 0, 2 * np.pi, 30), 1.6)
    for lx in (560, 610):
        brush([(lx, 515), (lx - 5, 560), (lx - 2, 585)], 3.5)
        brush([(lx - 2, 585), (lx - 20, 596)], 2.5)
        brush([(lx - 2, 585), (lx + 14, 597)], 2.5)
    # Breast texture: short curved marks.
    for _ in range(70):
        px, py = rng.uniform(440, 620), rng.uniform(390, 500)
        if ((px - 520) / 100) ** 2 + ((py - 440) / 60) ** 2 > 1:
            continue
        brush(arc(px, py, 7, 4, 0.2, np.pi - 0.2, 8), 1.5, taper=(0.2, 0.4))
    alpha = np.clip(1 - sheet.trans[..., 0], 0, 1)
    alpha = alpha[190:]  # the sky above the bird stays out of the picture
    rgba = np.empty(alpha.shape + (4,), np.uint8)
    rgba[..., :3] = (16, 18, 30)  # blue-black ink; its colour is kept under alpha 0 too
    rgba[..., 3] = to_u8(alpha)
    return Image.fromarray(rgba, mode="RGBA")


DRAWINGS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "pencil_still_life.png": pencil_still_life,
    "ink_landscape.png": ink_landscape,
    "marker_balloons.jpg": marker_balloons,
    "photo_portrait_exif6.jpg": photo_portrait,
    "cube_shading_16bit.tif": lambda rng: Image.fromarray(cube_16bit(rng)),
    "ink_bird_rgba.png": ink_bird_rgba,
}


def save(im: Image.Image, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".png":
        im.save(path, format="PNG", optimize=False, compress_level=9)
    elif suffix in (".jpg", ".jpeg"):
        exif = im.info.get("exif")
        kwargs = {"exif": exif} if exif else {}
        im.save(path, format="JPEG", quality=90, subsampling="4:2:0", **kwargs)
    elif suffix in (".tif", ".tiff"):
        im.save(path, format="TIFF", compression="tiff_adobe_deflate")
    else:
        raise ValueError(f"no writer for {path.name}")


def contact_sheet(folder: Path, path: Path, *, cell: int = 380) -> None:
    """Thumbnails of the drawings in ``folder`` on one PNG, labelled, for the README."""
    from PIL import ImageFont, ImageOps

    names = [n for n in DRAWINGS if (folder / n).exists()]
    cols = 3
    rows = (len(names) + cols - 1) // cols
    pad, label = 12, 26
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + label + pad) + pad),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    for i, name in enumerate(names):
        with Image.open(folder / name) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode == "I;16":
                im = Image.fromarray(to_u8(np.asarray(im, np.float32) / 65535))
            if im.mode == "RGBA":  # show transparency on a checkerboard
                yy, xx = np.mgrid[0:im.size[1], 0:im.size[0]]
                board = np.where(((yy // 16 + xx // 16) % 2)[..., None] == 0, 255, 228)
                back = Image.fromarray(np.repeat(board, 3, -1).astype(np.uint8)).convert("RGBA")
                im = Image.alpha_composite(back, im)
            im = im.convert("RGB")
            im.thumbnail((cell, cell), Image.Resampling.LANCZOS)
        x0 = pad + (i % cols) * (cell + pad)
        y0 = pad + (i // cols) * (cell + label + pad)
        top = y0 + (cell - im.size[1]) // 2 + label // 2
        sheet.paste(im, (x0 + (cell - im.size[0]) // 2, top))
        draw.text((x0 + cell // 2, top + im.size[1] + 5), name, fill=(40, 40, 40), font=font,
                  anchor="ma")
    sheet.save(path, format="PNG", optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?",
                        default=str(Path(__file__).resolve().parents[1] / "sample_images"))
    parser.add_argument("--only", nargs="*", default=None, help="file names to draw")
    parser.add_argument("--sheet", default=None,
                        help="also write a contact sheet of the drawings to this PNG")
    args = parser.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for i, (name, draw) in enumerate(DRAWINGS.items()):
        if args.only and name not in args.only:
            continue
        im = draw(np.random.default_rng(SEED + i))
        save(im, outdir / name)
        print(f"{outdir / name}: {im.size[0]}x{im.size[1]} {im.mode}, "
              f"{(outdir / name).stat().st_size / 1e6:.2f} MB")
    if args.sheet:
        contact_sheet(outdir, Path(args.sheet))
        print(f"{args.sheet}: contact sheet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
