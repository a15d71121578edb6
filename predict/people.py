"""Every person in a picture and the most prominent one (the group overlay is `predict.group_overlay`).

`find_people` finds everybody with a detector that returns one person per call (mediapipe's pose solution,
the offline default): detect, limit the silhouette to the person's body reach (`predict.body_reach`: a
segmentation also marks neighbours), paint that person out, detect again, until nobody new is found or
`max_people` are. Painting out fills the person's dilated silhouette by inpainting at a quarter of the
resolution (fast, and it leaves no person-shaped flat blob for the detector to find again). A person found
later keeps only the pixels no earlier person took, and a detection that is mostly inside earlier people
(the same person again, or a backend that ignores the painting, such as precomputed files) ends the search.
Backends that return several people per call are handled alike: all of a call's people are kept.

`prominence` scores a person by size, centrality and completeness; people are ordered by it (p0 = the
most prominent) and `--people main` keeps p0, so a person standing in the middle wins over a half-hidden
one at the picture's edge even when the latter is larger.

People whose silhouette is less than `MIN_PERSON_HEIGHT` pixels tall are set aside (`PeopleFound.too_small`):
a picture where nobody else is found fails with `too_small_reason`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from predict.body_reach import within_reach
from predict.detectors.base import DetectorBackend, PersonDetection, mask_box
from predict.detectors.retry import map_window_back

PEOPLE_MODES = ("main", "all")
DEFAULT_MAX_PEOPLE = 8
INPAINT_SCALE = 4  # paint people out at 1/4 resolution: ~10 ms for a 640 x 480 picture
MIN_NEW_SHARE = 0.3  # a detection with less of its silhouette outside earlier people is a repeat
KEYPOINT_SEEN = 0.5  # keypoints at least this confident count towards completeness
# Pictures with a shorter side are searched whole only: a window of half of it would give the detector too
# few pixels to find anyone the whole-picture search missed.
TILE_MIN_SIDE = 480
NO_PERSON = "No person found in this image."
# Under 32 px tall a person is a blocky blob (limbs a pixel or two wide, the face's five keypoints within a
# few pixels of each other) that the crop (1.2 times the box) magnifies to the regressor's input, 6.7 times
# for the original's 256 px, 3.3 times for 128 px: the body would be the mean shape guessed into place, not
# a fit to the person.
MIN_PERSON_HEIGHT = 32


@dataclass
class PeopleFound:
    """People of one picture, most prominent first, and how they were found."""

    people: list[PersonDetection]  # those at least MIN_PERSON_HEIGHT pixels tall
    attempt: str | None  # the retrying detector's attempt that found the first person (None: plain)
    detector_calls: int
    too_small: list[PersonDetection]  # found, but below MIN_PERSON_HEIGHT; most prominent first

    @property
    def failure(self) -> str | None:
        """Why the picture gives no body (nobody found, or only people too small), None when it does."""
        if self.people:
            return None
        return too_small_reason(self.too_small) if self.too_small else NO_PERSON


def silhouette_height(person: PersonDetection) -> int:
    """Height in pixels of the box of the person's silhouette (its rows from first to last, inclusive)."""
    box = mask_box(person.mask)
    assert box is not None  # a PersonDetection's mask has a pixel
    return int(box[3] - box[1])


def tall_enough(person: PersonDetection) -> bool:
    """Whether the person's silhouette is at least `MIN_PERSON_HEIGHT` pixels tall."""
    return silhouette_height(person) >= MIN_PERSON_HEIGHT


def too_small_reason(people: Sequence[PersonDetection]) -> str:
    """The one-sentence reason a picture whose only people are too small gives no body."""
    tallest = max(silhouette_height(person) for person in people)
    who = "The person found is" if len(people) == 1 else f"The {len(people)} people found are at most"
    return f"{who} {tallest} px tall: too small for a usable fit (at least {MIN_PERSON_HEIGHT} px)."


def find_people(
    detector: DetectorBackend,
    image_rgb: np.ndarray,
    image_path: Path | None = None,
    max_people: int = DEFAULT_MAX_PEOPLE,
    tiles: bool = False,
) -> PeopleFound:
    """Everybody in the picture (at most `max_people`), ordered by `prominence`; people under
    `MIN_PERSON_HEIGHT` pixels go to `too_small`.

    The detector's retries (a `RetryingDetector`) run for the first search only: once someone is found,
    the plain backend (`detector.primary`) looks for the others. With `tiles`, a large picture (short side
    at least `TILE_MIN_SIDE`) is then searched window by window (`tile_windows`), so that people too small
    for a whole-picture detection are found too.
    Raises:
        ImageDetectionError: the detector cannot process this picture.
    """
    height, width = image_rgb.shape[:2]
    plain = detector.primary
    search = _Search(image_rgb, image_path, max_people)
    search.run(detector, plain)
    search.attempt = detector.last_attempt
    if tiles and plain.looks_at_pixels:
        for window in tile_windows((height, width)):
            if len(search.people) >= max_people:
                break
            search.run(plain, plain, window)
    ordered = order_by_prominence(search.people, (height, width))
    usable = [person for person in ordered if tall_enough(person)]
    too_small = [person for person in ordered if not tall_enough(person)]
    return PeopleFound(usable, search.attempt, search.calls, too_small)


def tile_windows(image_hw: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side) that cover a picture whose short side is at least `TILE_MIN_SIDE`,
    half the short side each, overlapping by half, centre first then row by row ([] for smaller pictures).
    A person a tenth of the picture tall fills a fifth of such a window: large enough for the detector."""
    height, width = image_hw
    short = min(height, width)
    if short < TILE_MIN_SIDE:
        return []
    side = short // 2
    stride = side // 2

    def starts(length: int) -> list[int]:
        last = length - side
        return sorted({*range(0, last, stride), last})

    windows = [(x0, y0, side) for y0 in starts(height) for x0 in starts(width)]
    centre = ((width - side) / 2, (height - side) / 2)
    # The most central window first: when max_people cuts the search short, the middle has been seen.
    first = min(windows, key=lambda w: abs(w[0] - centre[0]) + abs(w[1] - centre[1]))
    return [first] + [w for w in windows if w != first]


class _Search:
    """The people found so far in one picture, the picture with them painted out, and the pixels they
    took; `run` adds whoever a backend finds in the picture or in one window of it."""

    def __init__(self, image_rgb: np.ndarray, image_path: Path | None, max_people: int):
        height, width = image_rgb.shape[:2]
        self.image_path = image_path
        self.max_people = max_people
        self.work = image_rgb
        self.taken = np.zeros((height, width), bool)
        self.people: list[PersonDetection] = []
        self.attempt: str | None = None
        self.calls = 0
        grow = max(3, round(0.01 * max(height, width)))  # silhouettes miss a few pixels of hair and clothes
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))

    def run(
        self, first: DetectorBackend, rest: DetectorBackend, window: tuple[int, int, int] | None = None
    ) -> None:
        """Detect with `first`, then with `rest` on the painted picture, until nobody new is found; in
        `window` (x0, y0, side) only, when given."""
        height, width = self.taken.shape
        found_here = 0
        while len(self.people) < self.max_people:
            backend = first if not found_here else rest
            if window is None:
                found = backend.detect(self.work, self.image_path)
            else:
                x0, y0, side = window
                view = np.ascontiguousarray(self.work[y0 : y0 + side, x0 : x0 + side])
                found = map_window_back(backend.detect(view, self.image_path), (x0, y0), (height, width))
                found = [person for person in found if _whole_in_window(person.box, window, (height, width))]
            self.calls += 1
            # Each silhouette limited to its own skeleton's reach first: a segmentation that also covers a
            # neighbour would otherwise inflate this body and paint the neighbour out unfound.
            reached = [person for person in map(within_reach, found) if person is not None]
            new = [person for person in (_without(p, self.taken) for p in reached) if person is not None]
            if not new:
                return
            for person in new[: self.max_people - len(self.people)]:
                self.people.append(person)
                self.taken |= person.mask
                found_here += 1
            self.work = paint_out(self.work, cv2.dilate(self.taken.astype(np.uint8), self.kernel) > 0)


def _whole_in_window(box: np.ndarray, window: tuple[int, int, int], image_hw: tuple[int, int]) -> bool:
    """Whether a person's box [x0, y0, x1, y1] keeps off the window's edges (those that are not the
    picture's own). Windows overlap by half, so anyone smaller than half a window is whole in one of them;
    a person cut by a window's edge is large, or a part of someone found whole elsewhere."""
    x0, y0, side = window
    height, width = image_hw
    margin = 2.0
    return bool(
        (x0 == 0 or box[0] > x0 + margin)
        and (y0 == 0 or box[1] > y0 + margin)
        and (x0 + side >= width or box[2] < x0 + side - margin)
        and (y0 + side >= height or box[3] < y0 + side - margin)
    )


def paint_out(image_rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The picture with `region` (H, W) bool filled from its surroundings (inpainting at 1/INPAINT_SCALE
    resolution, upsampled) -> (H, W, 3) uint8."""
    height, width = image_rgb.shape[:2]
    small_wh = (max(1, width // INPAINT_SCALE), max(1, height // INPAINT_SCALE))
    small = cv2.resize(image_rgb, small_wh, interpolation=cv2.INTER_AREA)
    small_region = cv2.resize(region.astype(np.uint8), small_wh, interpolation=cv2.INTER_NEAREST)
    small_region = cv2.dilate(small_region, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_region, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out = image_rgb.copy()
    out[region] = filled[region]
    return out


def prominence(person: PersonDetection, image_hw: tuple[int, int]) -> float:
    """How much a person is the picture's subject, in [0, 1]: linear size (square root of the silhouette's
    share of the picture) times centrality (1 at the centre, 1/2 at a corner) times completeness (1 when all
    17 keypoints are confidently inside the picture and the box touches no side edge, down to 1/4)."""
    height, width = image_hw
    size = math.sqrt(float(person.mask.sum()) / (height * width))
    centre_u, centre_v = person.centre
    offset = math.hypot((centre_u - width / 2) / width, (centre_v - height / 2) / height) / math.hypot(
        0.5, 0.5
    )
    centrality = 1.0 - 0.5 * min(offset, 1.0)
    u, v, confidence = person.keypoints.T
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height) & (confidence >= KEYPOINT_SEEN)
    edge = max(2.0, 0.005 * width)
    cut = float(person.box[0] <= edge) + float(person.box[2] >= width - edge)
    completeness = (0.5 + 0.5 * float(inside.mean())) * (1.0 - 0.25 * min(cut, 2.0))
    return size * centrality * completeness


def order_by_prominence(
    people: Sequence[PersonDetection], image_hw: tuple[int, int]
) -> list[PersonDetection]:
    """People, most prominent first (stable for ties)."""
    return sorted(people, key=lambda person: -prominence(person, image_hw))


def choose_main(people: Sequence[PersonDetection], image_hw: tuple[int, int]) -> PersonDetection | None:
    """The most prominent person at least `MIN_PERSON_HEIGHT` pixels tall, None when there is none."""
    ordered = order_by_prominence(people, image_hw)
    usable = [person for person in ordered if tall_enough(person)]
    return usable[0] if usable else None


def _without(person: PersonDetection, taken: np.ndarray) -> PersonDetection | None:
    """The person with the pixels earlier people took removed; None when too little of them is new."""
    area = int(person.mask.sum())
    mask = person.mask & ~taken
    if int(mask.sum()) < MIN_NEW_SHARE * area:
        return None
    box = mask_box(mask)
    if box is None:
        return None
    return PersonDetection(mask=mask, keypoints=person.keypoints, box=box, score=person.score)
