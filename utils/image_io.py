"""Robust image reading and input listing for inference.

Every image becomes an (H, W, 3) uint8 RGB array, whatever it was on disk:
- EXIF orientation is applied (OpenCV does it for every decode flag except IMREAD_UNCHANGED);
- grayscale, 1-bit and palette images are expanded to three channels;
- an alpha channel is dropped: the colour stored under transparent pixels is kept as it is (exporters
  store black or white there), so a cut-out person stays on a plain background;
- 16-bit images are scaled to 8 bits (v / 257, so 65535 -> 255); float images are taken as [0, 1];
- images whose long side exceeds `max_side` are downscaled (area interpolation); `LoadedImage.to_original`
  maps pixel coordinates back to the file's (oriented) pixels;
- the pixel budget `max_pixels` is checked on the header's size before decoding (utils/image_header.py), so a
  decompression bomb costs nothing: a JPEG over it is decoded at 1/2, 1/4 or 1/8 size where that fits,
  any other image over it is refused. Files over MAX_FILE_BYTES are refused unread.
Every image-named entry of a folder is listed, also those that are not regular files (a folder named
`x.jpg`, a broken or looping symbolic link, a pipe), so that each gets its line in a run's summary.
A file that cannot be read raises `ImageReadError` with one sentence naming the file and the reason, so a
batch run can record it as one summary line and go on.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from utils.errors import InputFileError, UsageError
from utils.image_header import HEADER_BYTES, header_size

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
DEFAULT_MAX_SIDE = 4096
# 50 megapixels: a 16-bit RGB image of this size takes 300 MB decoded (and 150 MB more at 8 bits).
DEFAULT_MAX_PIXELS = 50_000_000
MAX_FILE_BYTES = 1 << 30
# JPEGs over the pixel budget are decoded reduced, by the smallest of these factors that fits.
_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}

# Keep the file's bit depth and colour layout (ANYDEPTH | ANYCOLOR) but not IMREAD_UNCHANGED, which is the
# one flag value for which OpenCV skips the EXIF orientation.
_DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
_OPENCV_LOG_LEVEL_ERROR = 2
GLOB_CHARACTERS = frozenset("*?[")  # a path with any of them is a pattern


class ImageReadError(InputFileError):
    """An image file that cannot be used: missing, empty, not an image, corrupt."""


class InputPathError(UsageError):
    """An input path (file, folder or glob pattern) that does not exist or cannot be listed."""


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the detectors.

    Attributes:
        rgb: (H, W, 3) uint8, RGB order, upright (EXIF applied), possibly downscaled.
        original_hw: (height, width) of the upright image in the file, before any downscaling.
    """

    rgb: np.ndarray
    original_hw: tuple[int, int]

    @property
    def scale(self) -> float:
        """Pixels of `rgb` per pixel of the file (1.0 unless downscaled)."""
        return self.rgb.shape[1] / self.original_hw[1]

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) pixel coordinates (u, v) of `rgb` to the file's pixels (exact per axis)."""
        factors = np.array(
            [self.original_hw[1] / self.rgb.shape[1], self.original_hw[0] / self.rgb.shape[0]],
            dtype=np.float64,
        )
        return np.asarray(points, dtype=np.float64) * factors


def read_image_rgb(
    path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Read an image file as upright 8-bit RGB.

    Args:
        path: image file (any format OpenCV decodes: JPEG, PNG, BMP, TIFF, WebP, ...).
        max_side: downscale so that the long side is at most this many pixels; None keeps full size.
        max_pixels: pixel budget of the decoded image (module docstring); None: OpenCV's own limit only.
    Returns:
        LoadedImage with rgb (H, W, 3) uint8.
    Raises:
        ImageReadError: the file is missing, empty, unreadable, not an image, corrupt or over the budget.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels or None, got {max_side}.")
    path = Path(path)
    data = _read_bytes(path)
    declared = header_size(data[:HEADER_BYTES].tobytes())
    flags, reduction = _decode_plan(path, declared, max_pixels, is_jpeg=data[:2].tobytes() == b"\xff\xd8")
    with _quiet_opencv():
        try:
            decoded = cv2.imdecode(data, flags)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise ImageReadError(f"{path} could not be decoded ({reason}).") from None
    if decoded is None:
        if cv2.haveImageReader(str(path)):
            raise ImageReadError(f"{path} is corrupt or truncated: its image data could not be decoded.")
        raise ImageReadError(f"{path} is not an image in a format OpenCV reads (jpg, png, bmp, tif, webp).")
    del data
    if declared is None and max_pixels is not None and decoded.shape[0] * decoded.shape[1] > max_pixels:
        raise _over_budget(path, decoded.shape[1], decoded.shape[0], max_pixels)
    rgb = _to_rgb_uint8(decoded, path)
    original_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    if (
        reduction > 1 and declared is not None
    ):  # the file's size, upright: the header's, turned if the EXIF orientation turned it
        width, height = declared
        turned = abs(rgb.shape[0] - height / reduction) > abs(rgb.shape[0] - width / reduction)
        original_hw = (width, height) if turned else (height, width)
    if max_side is not None and max(original_hw) > max_side:
        rgb = _downscale(rgb, max_side)
    return LoadedImage(rgb=rgb, original_hw=original_hw)


def list_images(path: str | Path, recursive: bool = False) -> list[Path]:
    """The image files named by an input path, sorted.

    Args:
        path: an image file (returned as is, whatever its extension, so that a bad one gets reported), a
            folder (its entries with an image extension, case-insensitive, files or not; hidden ones
            skipped), or a glob pattern such as "photos/*.jpg" (its matching entries with an image
            extension).
        recursive: also list sub-folders of a folder; lets "**" span folders in a pattern.
    Returns:
        Sorted list of paths; empty for an empty folder or a pattern with no match (the caller reports it).
    Raises:
        InputPathError: the path does not exist (and is no pattern), or the folder cannot be listed.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        try:
            candidates = list(path.rglob("*") if recursive else path.iterdir())
        except OSError as exc:
            raise InputPathError(f"Input folder {path} cannot be listed ({exc.strerror}).") from None
        candidates = [p for p in candidates if not _is_hidden(p.relative_to(path))]
    elif GLOB_CHARACTERS & set(str(path)):
        candidates = [Path(p) for p in glob.glob(str(path), recursive=recursive)]
    elif path.exists():
        raise InputPathError(
            f"Input {path} is no regular file or folder; pass an image, a folder or a glob pattern."
        )
    else:
        raise InputPathError(
            f"Input {path} does not exist; pass an image file, a folder of images or a glob pattern "
            "such as 'photos/*.jpg'."
        )
    # Image-named entries that are no regular files stay in, so that the run reports them.
    return sorted((p for p in candidates if _has_image_extension(p)), key=str)


def _is_hidden(relative: Path) -> bool:
    """Dot-files and anything inside dot-folders (e.g. macOS '._x.jpg' companions, '.git/')."""
    return any(part.startswith(".") for part in relative.parts)


def _has_image_extension(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _decode_plan(
    path: Path, declared: tuple[int, int] | None, max_pixels: int | None, is_jpeg: bool
) -> tuple[int, int]:
    """(imdecode flags, reduction factor) for an image whose header declares `declared` (width, height)."""
    if declared is None or max_pixels is None or declared[0] * declared[1] <= max_pixels:
        return _DECODE_FLAGS, 1
    width, height = declared
    for factor, flags in _REDUCED_FLAGS.items():
        if is_jpeg and -(-width // factor) * -(-height // factor) <= max_pixels:
            return flags, factor
    raise _over_budget(path, width, height, max_pixels)


def _over_budget(path: Path, width: int, height: int, max_pixels: int) -> ImageReadError:
    return ImageReadError(
        f"{path} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels), over the limit of "
        f"{max_pixels / 1e6:g} megapixels; downscale it first (or raise --max_pixels)."
    )


def _read_bytes(path: Path) -> np.ndarray:
    # np.fromfile + imdecode instead of imread: works with any file name on every OS, and separates "cannot
    # read the file" from "cannot decode its content". The entry is checked first: a folder, a broken or
    # looping link and a pipe (which would block the read) each get their own sentence.
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageReadError(f"{path} is a broken symbolic link (its target does not exist).") from None
        raise ImageReadError(f"{path} does not exist.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError(f"{path} is a symbolic link loop, not an image file.") from None
        raise ImageReadError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{path} is a folder, not an image file.")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{path} is not a regular file (a pipe, socket or device), so it is not read.")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageReadError(
            f"{path} is {info.st_size / 2**30:.1f} GiB, over the {MAX_FILE_BYTES / 2**30:g} GiB limit for "
            "one image file."
        )
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    if data.size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes).")
    return data


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (e.g. 'PNG input buffer is incomplete') while decoding: a bad file is
    reported once, by our ImageReadError, not by extra lines on stderr."""
    previous = cv2.getLogLevel()
    cv2.setLogLevel(_OPENCV_LOG_LEVEL_ERROR)
    # libpng prints its errors ("libpng error: PNG input buffer is incomplete") straight to file
    # descriptor 2, past OpenCV's log level: stderr points at /dev/null while decoding.
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
        cv2.setLogLevel(previous)


def _to_rgb_uint8(image: np.ndarray, path: Path) -> np.ndarray:
    """Decoded (H, W) gray or (H, W, 3) BGR array of any depth -> (H, W, 3) uint8 RGB.

    IMREAD_ANYCOLOR already expands palettes and drops alpha, so no other layout comes out of imdecode.
    """
    image = _to_uint8(image, path)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    raise ImageReadError(f"{path} decodes to an unsupported pixel layout {image.shape}.")


def _to_uint8(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        # v / 257 maps 0..65535 exactly onto 0..255 (257 = 65535 / 255), rounded, with no float copy of
        # the image (that copy doubled the memory of big 16-bit files).
        return cv2.convertScaleAbs(image, alpha=1.0 / 257.0)
    if np.issubdtype(image.dtype, np.floating):
        return np.round(np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ImageReadError(f"{path} has {image.dtype} pixels; save it as an 8- or 16-bit image.")


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    factor = max_side / max(height, width)
    size_wh = (max(1, round(width * factor)), max(1, round(height * factor)))
    # Area interpolation averages the source pixels under each output pixel: no aliasing on big reductions.
    return cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA)
