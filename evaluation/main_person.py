"""Which person of a scene benchmark picture is its main one: the largest, least occluded, most central.

    score = sqrt(visible body area / picture area) * visible fraction * (1 - 0.5 * min(offset, 1))

The visible body area counts the person's body pixels not hidden by anything else (their own clothes do
not hide them); the visible fraction is that area over the whole body's projected area, in the picture or
not (so a person cut by the border or half hidden loses); offset is the distance of the visible pixels'
centroid from the picture centre, over the half-diagonal, in picture-size units (1 at a corner), as in
`predict.people.prominence`. Every term is unchanged by a left-right mirror of the picture, so the rule
is mirror-invariant; ties go to the lowest index.
"""

from __future__ import annotations

import math

import numpy as np


def main_person_scores(visible: np.ndarray, visible_fraction: np.ndarray) -> np.ndarray:
    """Scores (P,) float64 of P people from their visible body pixels (P, H, W) bool and visible
    fractions (P,)."""
    count, height, width = visible.shape
    areas = visible.reshape(count, -1).sum(axis=1).astype(np.float64)
    rows = np.arange(height, dtype=np.float64) + 0.5  # pixel centres
    cols = np.arange(width, dtype=np.float64) + 0.5
    scores = np.zeros(count)
    for k in range(count):
        if areas[k] == 0:
            continue
        u = float((visible[k].sum(axis=0) * cols).sum() / areas[k])
        v = float((visible[k].sum(axis=1) * rows).sum() / areas[k])
        offset = math.hypot((u - width / 2) / width, (v - height / 2) / height) / math.hypot(0.5, 0.5)
        share = areas[k] / (height * width)
        scores[k] = math.sqrt(share) * float(visible_fraction[k]) * (1.0 - 0.5 * min(offset, 1.0))
    return scores


def main_person(visible: np.ndarray, visible_fraction: np.ndarray) -> int:
    """Index of the main person (see the module docstring); visible (P, H, W) bool, visible_fraction (P,)."""
    return int(np.argmax(main_person_scores(visible, visible_fraction)))
