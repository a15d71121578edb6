"""Square pixel windows over primitive bounding boxes: the unit of vectorised work of the rasterizers.

Every primitive (a triangle, or an outline segment for the soft silhouette) is given the smallest window from
`WINDOW_SIZES` that holds its pixel bounding box; primitives larger than the largest window are covered by
several windows (tiles). All windows of one size are then evaluated together, k * k pixels each, in chunks of
bounded size. Most body triangles at 256 x 256 span a few pixels, so little work is wasted, and a huge
triangle costs tiles instead of one giant allocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

WINDOW_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True)
class Windows:
    """J windows of size k x k. item: (J,) int64 primitive index; origin: (J, 2) int64 top-left pixel
    (column, row)."""

    size: int
    item: Tensor
    origin: Tensor

    def chunks(self, max_pixels: int) -> Iterator[Windows]:
        """Split into pieces of at most max(max_pixels, k * k) window pixels."""
        step = max(1, max_pixels // (self.size * self.size))
        for start in range(0, self.item.shape[0], step):
            stop = start + step
            yield Windows(self.size, self.item[start:stop], self.origin[start:stop])

    def offsets(self) -> tuple[Tensor, Tensor]:
        """Column and row offsets of the k * k window pixels in raster order: two (k * k,) int64 tensors."""
        steps = torch.arange(self.size, device=self.item.device)
        return steps.repeat(self.size), steps.repeat_interleave(self.size)


def pixel_windows(
    lo: Tensor, hi: Tensor, keep: Tensor, image_size: tuple[int, int], sizes: tuple[int, ...] = WINDOW_SIZES
) -> Iterator[Windows]:
    """Windows that cover each kept primitive's inclusive pixel range [lo, hi].

    lo, hi: (T, 2) int64 (column, row) inside the image; keep: (T,) bool. Windows are shifted to lie inside
    the image, which keeps every window pixel addressable and still covers the range.
    """
    height, width = image_size
    # A window must fit in the image, so sizes are capped at its shorter side.
    sizes = tuple(sorted({min(s, height, width) for s in sizes}))
    extent = hi - lo + 1
    keep = keep & (extent > 0).all(1)
    size_table = torch.tensor(sizes, device=lo.device)
    group = torch.bucketize(extent.amax(1), size_table).clamp(max=len(sizes) - 1)
    group = torch.where(keep, group, -1)
    counts = torch.bincount(group + 1, minlength=len(sizes) + 1)[1:].tolist()
    shift_limit = torch.tensor([width, height], device=lo.device)
    for index, (size, count) in enumerate(zip(sizes, counts, strict=True)):
        if count == 0:
            continue
        item = (group == index).nonzero().squeeze(1)
        origin = lo[item]
        if index == len(sizes) - 1:
            item, origin = _tiles(item, origin, extent[item], size)
        yield Windows(size, item, origin.minimum(shift_limit - size))


def _tiles(item: Tensor, origin: Tensor, extent: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Cover each range of `extent` pixels from `origin` with size x size tiles.

    item: (J,); origin, extent: (J, 2) -> the item and origin of every tile."""
    per_axis = (extent + size - 1) // size
    count = per_axis.prod(1)
    owner = torch.repeat_interleave(torch.arange(item.shape[0], device=item.device), count)
    first = torch.cumsum(count, 0) - count
    rank = torch.arange(owner.shape[0], device=item.device) - first[owner]
    columns = per_axis[owner, 0]
    step = torch.stack((rank % columns, rank // columns), dim=1)
    return item[owner], origin[owner] + step * size
