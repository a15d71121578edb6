"""Which detected person to reconstruct: the largest roughly-centred one (ORIGINAL.md §9, step 4).

The original sorts the Keypoint R-CNN boxes by area, largest first, and takes the first whose centre lies
within w/6 of the image centre horizontally and vertically, else the largest. It measures on the 512x512
image it made by padding the photo to a square, so w/6 there is max(H, W)/6 in the photo's own pixels, and
the square's centre is the photo's centre. Applying the rule with max(H, W) on the photo is therefore the
same choice (up to the original's one-pixel padding rounding) without padding anything.

The original chose the keypoint person and the silhouette independently (with other rules for PointRend
and DensePose), so they could belong to different people. Here each `PersonDetection` already pairs a
silhouette with its joints, and the choice is made once.
"""

from __future__ import annotations

from collections.abc import Sequence

from predict.detectors.base import PersonDetection

CENTRE_TOLERANCE = 1.0 / 6.0


def choose_person(
    detections: Sequence[PersonDetection],
    image_hw: tuple[int, int],
    centre_tolerance: float = CENTRE_TOLERANCE,
) -> PersonDetection | None:
    """Pick the largest person whose box centre is near the image centre, else the largest person.

    Args:
        detections: people found in one image.
        image_hw: (height, width) of that image in pixels.
        centre_tolerance: fraction of max(H, W) the box centre may be from the image centre, on each axis
            (strictly less).
    Returns:
        The chosen detection, or None when there is none.
    """
    if not detections:
        return None
    height, width = image_hw
    tolerance = centre_tolerance * max(height, width)
    by_area = sorted(detections, key=lambda person: person.area, reverse=True)  # stable: ties keep order
    for person in by_area:
        centre_u, centre_v = person.centre
        if abs(centre_u - width / 2.0) < tolerance and abs(centre_v - height / 2.0) < tolerance:
            return person
    return by_area[0]
