"""The body crop: silhouette bounding box -> crop box -> resampled maps and transformed joints.

One crop for training, validation, prediction and evaluation (ORIGINAL.md §5.2 step 7, §9), so that the
regressor sees the same geometry everywhere; training jitters its scale and centre
(augmentation/crop_jitter.py). Coordinates follow docs/ARCHITECTURE.md: x = column, y = row, pixel (i, j)
covers [j, j + 1) x [i, i + 1). A crop box is (B, 4) [x0, y0, x1, y1] in those continuous coordinates; a
point p maps to (p - [x0, y0]) * out_size / [x1 - x0, y1 - y0] in the out_size x out_size crop.

Two modes:
- "square" (default, as at inference): a square box of side max(h, w) * scale around the silhouette's
  bounding box; parts beyond the image border are zero padding. Nearest sampling picks the source pixel
  under each crop pixel's centre, which is exactly the mapping the joints follow. This is the original's
  inference crop up to a pixel: we measure the bbox on pixel edges and do not truncate the corners.
- "original": the original's training crop: centre and side from its bbox arithmetic (pixel indices, no
  +1), corners truncated to integers, clipped at 0 and at the far image edge with no padding, so crops
  near the border are not square and get stretched to out_size. Nearest sampling reproduces OpenCV's
  INTER_NEAREST picks (source index floor(k * in / out)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from configs.experiment import ProxyRepConfig

CROP_MODES = ("square", "original")


@dataclass
class CropResult:
    """maps: (B, out, out) cropped label maps; joints2d: (B, J, 2) crop pixels; boxes: (B, 4) crop boxes;
    found: (B,) bool, False where the label map was empty (its box is then the whole image)."""

    maps: torch.Tensor
    joints2d: torch.Tensor
    boxes: torch.Tensor
    found: torch.Tensor


def mask_bbox(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounding box of the nonzero pixels of each map: the project's one box-of-a-mask scan.

    The box is in inclusive pixel indices (the last occupied column and row themselves), the original's
    convention, on which its crop arithmetic (`original_crop_boxes`) depends; `square_crop_boxes` and
    `predict.detectors.base.mask_box` add 1 to the far corner to get pixel edges.
    Args:
        masks: (B, H, W) label maps or masks.
    Returns:
        bbox (B, 4) float [col_min, row_min, col_max, row_max] as pixel indices (inclusive), and found (B,)
        bool. Empty maps get the whole image [0, 0, W - 1, H - 1] and found = False.
    """
    b, h, w = masks.shape
    rows = (masks != 0).any(dim=2)  # (B, H)
    cols = (masks != 0).any(dim=1)  # (B, W)
    found = rows.any(dim=1)

    def extent(occupied: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = occupied.int().argmax(dim=1)
        last = size - 1 - occupied.flip(1).int().argmax(dim=1)
        return torch.where(found, first, 0), torch.where(found, last, size - 1)

    r0, r1 = extent(rows, h)
    c0, c1 = extent(cols, w)
    return torch.stack((c0, r0, c1, r1), dim=1).float(), found


def square_crop_boxes(
    bbox: torch.Tensor,
    scale: float | torch.Tensor = ProxyRepConfig.crop_scale,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """Square crop boxes around pixel bounding boxes.

    Args:
        bbox: (B, 4) [col_min, row_min, col_max, row_max] inclusive pixel indices (`mask_bbox`).
        scale: box side / longer bbox side, a float or (B,).
        shift: (B, 2) centre shift in pixels (x, y), or None.
    Returns:
        (B, 4) [x0, y0, x1, y1] continuous coordinates, x1 - x0 = y1 - y0.
    """
    lo, hi = bbox[:, :2], bbox[:, 2:] + 1.0  # pixel edges
    centre = (lo + hi) / 2 if shift is None else (lo + hi) / 2 + shift
    half = (hi - lo).amax(dim=1) * torch.as_tensor(scale, dtype=bbox.dtype, device=bbox.device) / 2
    return torch.cat((centre - half[:, None], centre + half[:, None]), dim=1)


def original_crop_boxes(
    bbox: torch.Tensor,
    image_size: tuple[int, int],
    scale: float | torch.Tensor = ProxyRepConfig.crop_scale,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """The original's training crop boxes (ORIGINAL.md §5.2 step 7), integer-valued and inside the image.

    centre = mean of the min and max pixel indices (+ shift), side = max(index extents) * scale; corners
    are truncated towards zero, clipped at 0 and at the image size (W, H) like a numpy slice. Boxes are at
    least one pixel wide and high, where the original would have failed.

    Args:
        bbox: (B, 4) [col_min, row_min, col_max, row_max] inclusive pixel indices (`mask_bbox`).
        image_size: (H, W) of the maps the boxes will crop.
    Returns:
        (B, 4) [x0, y0, x1, y1], possibly not square.
    """
    h, w = image_size
    # Float64 as in the original's numpy code, so that corners landing on integers truncate the same way.
    lo, hi = bbox[:, :2].double(), bbox[:, 2:].double()
    centre = (lo + hi) / 2 if shift is None else (lo + hi) / 2 + shift.double()
    half = (hi - lo).amax(dim=1) * torch.as_tensor(scale, dtype=torch.float64, device=bbox.device) / 2
    limit = torch.tensor([w, h], dtype=torch.float64, device=bbox.device)
    start = torch.minimum((centre - half[:, None]).trunc().clamp_min(0), limit - 1)
    stop = torch.minimum((centre + half[:, None]).trunc(), limit)
    return torch.cat((start, torch.maximum(stop, start + 1)), dim=1).to(bbox.dtype)


def crop_points(points: torch.Tensor, boxes: torch.Tensor, out_size: int) -> torch.Tensor:
    """Map image pixels (B, N, 2) into the out_size crops of boxes (B, 4)."""
    size = boxes[:, 2:] - boxes[:, :2]
    return (points - boxes[:, None, :2]) * (out_size / size[:, None])


def uncrop_points(points: torch.Tensor, boxes: torch.Tensor, out_size: int) -> torch.Tensor:
    """Inverse of `crop_points`: crop pixels (B, N, 2) back to image pixels."""
    size = boxes[:, 2:] - boxes[:, :2]
    return points * (size[:, None] / out_size) + boxes[:, None, :2]


def crop_nearest(
    maps: torch.Tensor, boxes: torch.Tensor, out_size: int, rule: str = "centre"
) -> torch.Tensor:
    """Crop and resize maps with nearest sampling by index gathering (exact for integer label maps).

    Args:
        maps: (B, H, W) or (B, C, H, W), any dtype.
        boxes: (B, 4) crop boxes.
        rule: "centre": crop pixel k takes the source pixel under its centre, x0 + (k + 0.5) * side / out,
            zero outside the image; "cv2": OpenCV INTER_NEAREST on the integer box, source index
            x0 + floor(k * side / out) (used by the "original" mode).
    Returns:
        (B, out, out) or (B, C, out, out) of maps' dtype.
    """
    h, w = maps.shape[-2:]
    cols, col_ok = _nearest_indices(boxes[:, 0], boxes[:, 2], w, out_size, rule)
    rows, row_ok = _nearest_indices(boxes[:, 1], boxes[:, 3], h, out_size, rule)
    index = (rows[:, :, None] * w + cols[:, None, :]).flatten(1)  # (B, out * out)
    valid = row_ok[:, :, None] & col_ok[:, None, :]  # (B, out, out)
    flat = maps.flatten(-2)  # (B, [C,] H * W)
    if maps.dim() == 4:
        out = flat.gather(2, index[:, None].expand(-1, maps.shape[1], -1))
        return out.view(*maps.shape[:2], out_size, out_size).masked_fill(~valid[:, None], 0)
    return flat.gather(1, index).view(-1, out_size, out_size).masked_fill(~valid, 0)


def crop_bilinear(images: torch.Tensor, boxes: torch.Tensor, out_size: int) -> torch.Tensor:
    """Crop and resize float images (B, C, H, W) bilinearly to (B, C, out, out), zero outside the image.

    Samples at the same crop-pixel centres as `crop_nearest(rule="centre")`. There is no anti-aliasing:
    shrink very large images before cropping them to a much smaller size.
    """
    h, w = images.shape[-2:]
    k = (torch.arange(out_size, device=images.device, dtype=images.dtype) + 0.5) / out_size  # (out,)
    x = boxes[:, 0:1] + k * (boxes[:, 2:3] - boxes[:, 0:1])  # (B, out) source coordinates
    y = boxes[:, 1:2] + k * (boxes[:, 3:4] - boxes[:, 1:2])
    # align_corners=False puts -1 and +1 on the outer pixel edges, i.e. normalised = 2 * x / W - 1.
    gx = (2 * x / w - 1)[:, None, :].expand(-1, out_size, -1)
    gy = (2 * y / h - 1)[:, :, None].expand(-1, -1, out_size)
    grid = torch.stack((gx, gy), dim=-1).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def crop_to_body(
    label_maps: torch.Tensor,
    joints2d: torch.Tensor,
    out_size: int = 256,
    mode: str = "square",
    scale: float | torch.Tensor = ProxyRepConfig.crop_scale,
    shift: torch.Tensor | None = None,
) -> CropResult:
    """Crop label maps and joints around the body: bbox of the nonzero pixels, box of the mode, resample.

    Training passes the scale and shift of `augmentation.crop_jitter.sample_crop_jitter`; validation and
    inference keep the defaults (scale 1.2, no shift).

    Args:
        label_maps: (B, H, W) label maps or silhouettes.
        joints2d: (B, J, 2) pixels in the maps' frame.
        mode: "square" (default) or "original", see the module docstring.
    """
    if mode not in CROP_MODES:
        raise ValueError(f"Crop mode must be one of {CROP_MODES}, got {mode!r}.")
    bbox, found = mask_bbox(label_maps)
    if mode == "square":
        boxes = square_crop_boxes(bbox, scale, shift)
        maps = crop_nearest(label_maps, boxes, out_size, rule="centre")
    else:
        boxes = original_crop_boxes(bbox, (label_maps.shape[-2], label_maps.shape[-1]), scale, shift)
        maps = crop_nearest(label_maps, boxes, out_size, rule="cv2")
    return CropResult(maps, crop_points(joints2d, boxes, out_size), boxes, found)


def _nearest_indices(
    start: torch.Tensor, stop: torch.Tensor, size: int, out_size: int, rule: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Source indices (B, out) along one axis for crop_nearest, clamped into [0, size), and their validity."""
    k = torch.arange(out_size, device=start.device, dtype=torch.float64)
    start, stop = start.double()[:, None], stop.double()[:, None]
    if rule == "centre":
        index = torch.floor(start + (k + 0.5) * (stop - start) / out_size)
    elif rule == "cv2":
        # OpenCV computes floor(k * (1 / (out / in))) in double precision; the same arithmetic gives the
        # same picks, ties included.
        extent = stop - start
        index = start + torch.minimum(torch.floor(k * (1.0 / (out_size / extent))), extent - 1)
    else:
        raise ValueError(f"Nearest-sampling rule must be 'centre' or 'cv2', got {rule!r}.")
    valid = (index >= 0) & (index < size)
    return index.clamp(0, size - 1).long(), valid
