"""A person's mask limited to their skeleton's reach: neighbours are cut off, the body is kept, the region
is mirror-symmetric, and a person without a known torso is left alone."""

from __future__ import annotations

import numpy as np

from predict.body_reach import body_reach, within_reach
from predict.detectors.base import PersonDetection, mask_box

H, W = 240, 320


def _standing_keypoints(centre_u: float, scale: float = 1.0) -> np.ndarray:
    """COCO-17 of a person about 200 `scale` px tall facing the camera, centred at column centre_u, feet
    on row 230."""
    offsets = [  # (du, v): nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles
        (0, 30), (5, 26), (-5, 26), (10, 28), (-10, 28), (22, 55), (-22, 55), (26, 90), (-26, 90),
        (28, 122), (-28, 122), (14, 125), (-14, 125), (15, 175), (-15, 175), (15, 222), (-15, 222),
    ]  # fmt: skip
    points = np.array(
        [(centre_u + scale * du, 230 - scale * (230 - v), 1.0) for du, v in offsets], np.float32
    )
    return points


def _person(keypoints: np.ndarray, mask: np.ndarray) -> PersonDetection:
    box = mask_box(mask)
    assert box is not None
    return PersonDetection(mask=mask, keypoints=keypoints, box=box, score=1.0)


def test_a_silhouette_covering_two_people_keeps_only_the_asked_one():
    left, right = _standing_keypoints(110.0), _standing_keypoints(200.0)
    own = body_reach(left, (H, W))
    neighbour = body_reach(right, (H, W))
    assert own is not None and neighbour is not None
    merged = own | neighbour  # the segmentation marks both people
    kept = within_reach(_person(left, merged))
    assert kept is not None
    # The person's own body survives whole; the neighbour's far side is gone.
    assert (kept.mask & own).sum() == own.sum()
    assert not kept.mask[:, 240:].any()
    assert kept.box[2] < 200


def test_the_reach_is_mirror_symmetric():
    keypoints = _standing_keypoints(130.0)
    keypoints[9] = (180.0, 60.0, 1.0)  # a raised left wrist breaks the pose's own symmetry
    mirrored = keypoints.copy()
    mirrored[:, 0] = W - keypoints[:, 0]
    reach, reach_mirrored = body_reach(keypoints, (H, W)), body_reach(mirrored, (H, W))
    assert reach is not None and reach_mirrored is not None
    differing = (reach != reach_mirrored[:, ::-1]).sum()
    assert differing <= 0.01 * reach.sum()  # pixel rounding only


def test_without_a_known_torso_the_mask_is_left_alone():
    keypoints = _standing_keypoints(150.0)
    keypoints[11, 2] = 0.0  # a keypoint file marks the left hip missing
    mask = np.zeros((H, W), bool)
    mask[20:230, 100:300] = True
    assert body_reach(keypoints, (H, W)) is None
    assert within_reach(_person(keypoints, mask)).mask is mask


def test_keypoints_that_do_not_describe_the_silhouette_leave_it_whole():
    """A landmark model lost on an odd view can put a tiny torso on a tall silhouette; cutting the mask to
    that reach would split one person into pieces, so the mask stays as detected."""
    keypoints = _standing_keypoints(150.0)
    keypoints[[11, 12], 1] = keypoints[[5, 6], 1] + 10.0  # hips 10 px below the shoulders on a 200 px body
    mask = np.zeros((H, W), bool)
    mask[20:230, 110:190] = True
    assert within_reach(_person(keypoints, mask)).mask is mask
    plausible = _standing_keypoints(150.0)
    assert within_reach(_person(plausible, mask)).mask.sum() < mask.sum()  # a real torso does cut
