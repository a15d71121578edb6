"""Detection that misses less: when a detector finds nobody, try again in cheap ways.

mediapipe's pose solution finds nobody on some photographs where a person is plain to see (e.g. a wide
picture of two people from the waist up at its default threshold); the same photo padded to a square, at
a lower threshold, or cropped around the person, works. `RetryingDetector` wraps any backend and, only when
the plain attempt finds nobody, tries in turn:
1. `square`: the image padded to a square with black borders (the detector's input is square, so a wide
   picture is no longer squeezed);
2. `low_threshold`: a second backend with a lower person-detection threshold (when one is given);
3. `crop_centre`, `crop_start`, `crop_end`: squares of the short side at the centre, then at the two ends of
   the long side (people are most often near the middle of a picture), with the lower-threshold backend
   where there is one.
Whatever is found is mapped back to the input image's pixels (masks cut or padded, keypoints shifted).
`last_attempt` names the attempt that found someone (`direct` for the plain one; None when nobody was
found), for the summary. An image with nobody in it costs 1 + 2 + 3 detector calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from predict.detectors.base import DetectorBackend, PersonDetection, mask_box

ATTEMPTS = ("direct", "square", "low_threshold", "crop_centre", "crop_start", "crop_end")
RETRY_THRESHOLD = 0.3  # person-detection threshold of the fallback backend (mediapipe's default is 0.5)


class RetryingDetector(DetectorBackend):
    """A backend that retries (padded square, lower threshold, crops) when the wrapped one finds nobody.

    Args:
        primary: the backend used as is first; its results pass through unchanged when it finds someone.
        fallback: a backend with a lower detection threshold for the later attempts (None: the primary).
    Both are closed with this one.
    """

    def __init__(self, primary: DetectorBackend, fallback: DetectorBackend | None = None) -> None:
        self._primary = primary
        self.fallback = fallback
        self.name = primary.name
        self._last_attempt: str | None = None

    @property
    def primary(self) -> DetectorBackend:
        """The wrapped backend, used as is by the `direct` and `square` attempts."""
        return self._primary

    @property
    def last_attempt(self) -> str | None:
        """The attempt that found the people of the last `detect` call, None when none did."""
        return self._last_attempt

    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Every person the first successful attempt finds, in `image_rgb`'s pixels; [] if none does."""
        self._last_attempt = None
        for attempt in ATTEMPTS:
            people = self._attempt(attempt, image_rgb, image_path)
            if people is None:  # attempt not applicable (no fallback, already square, ...)
                continue
            if people:
                self._last_attempt = attempt
                return people
        return []

    def _attempt(
        self, attempt: str, image_rgb: np.ndarray, image_path: Path | None
    ) -> list[PersonDetection] | None:
        height, width = image_rgb.shape[:2]
        side = max(height, width)
        lower = self.fallback or self.primary
        if attempt == "direct":
            return self.primary.detect(image_rgb, image_path)
        if attempt == "square":
            if height == width:
                return None
            top, left = (side - height) // 2, (side - width) // 2
            padded = np.zeros((side, side, 3), np.uint8)
            padded[top : top + height, left : left + width] = image_rgb
            return map_window_back(self.primary.detect(padded, image_path), (-left, -top), (height, width))
        if attempt == "low_threshold":
            return None if self.fallback is None else self.fallback.detect(image_rgb, image_path)
        short = min(height, width)
        if short == side:
            return None  # a square picture has no smaller square of its short side
        start = {"crop_centre": (side - short) // 2, "crop_start": 0, "crop_end": side - short}[attempt]
        x0, y0 = (start, 0) if width > height else (0, start)
        crop = np.ascontiguousarray(image_rgb[y0 : y0 + short, x0 : x0 + short])
        return map_window_back(lower.detect(crop, image_path), (x0, y0), (height, width))

    def close(self) -> None:
        self.primary.close()
        if self.fallback is not None:
            self.fallback.close()


def map_window_back(
    people: list[PersonDetection], offset: tuple[int, int], image_hw: tuple[int, int]
) -> list[PersonDetection]:
    """Detections made on a window of an image whose pixel (0, 0) is the image's pixel `offset` (x, y;
    negative where the window was padded) -> detections in the image's pixels; people left without any
    mask pixel inside the image are dropped."""
    height, width = image_hw
    x0, y0 = offset
    mapped = []
    for person in people:
        mask = np.zeros((height, width), bool)
        window_h, window_w = person.mask.shape
        # The overlap of the window [x0, x0 + w) x [y0, y0 + h) with the image.
        ix0, iy0 = max(x0, 0), max(y0, 0)
        ix1, iy1 = min(x0 + window_w, width), min(y0 + window_h, height)
        if ix1 <= ix0 or iy1 <= iy0:
            continue
        mask[iy0:iy1, ix0:ix1] = person.mask[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
        box = mask_box(mask)
        if box is None:
            continue
        keypoints = person.keypoints.copy()
        keypoints[:, 0] += x0
        keypoints[:, 1] += y0
        mapped.append(PersonDetection(mask=mask, keypoints=keypoints, box=box, score=person.score))
    return mapped
