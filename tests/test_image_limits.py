"""Reading hostile images: sizes from headers, the pixel budget, reduced JPEG decoding, odd folder entries,
no stray lines from libpng."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.hostile_folder import BAD_KINDS, make_bad_entries, png_bomb
from tests.helpers import jpeg_with_exif_orientation, quadrant_image
from utils.image_header import header_size
from utils.image_io import ImageReadError, list_images, read_image_rgb


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp", ".tif"])
def test_header_size_of_every_listed_format(suffix: str) -> None:
    ok, data = cv2.imencode(suffix, np.zeros((23, 37, 3), dtype=np.uint8))
    assert ok
    assert header_size(data.tobytes()) == (37, 23)


def test_header_size_of_lossless_webp_and_unknown_content() -> None:
    ok, data = cv2.imencode(".webp", np.zeros((23, 37, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok and header_size(data.tobytes()) == (37, 23)
    assert header_size(b"GIF89a" + bytes(20)) is None
    assert header_size(b"\x89PNG\r\n\x1a\n") is None  # cut short


@pytest.mark.reliability
def test_a_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(30000, 30000))
    assert path.stat().st_size < 200_000
    with pytest.raises(ImageReadError, match=r"30000 x 30000 pixels .* over the limit of 50 megapixels"):
        read_image_rgb(path)


@pytest.mark.reliability
def test_a_jpeg_over_the_budget_is_decoded_reduced_with_its_true_size(tmp_path: Path) -> None:
    rgb = quadrant_image(300, 400)
    path = tmp_path / "turned.jpg"
    path.write_bytes(jpeg_with_exif_orientation(rgb, 6))  # 90 degrees clockwise: upright 400 x 300
    full = read_image_rgb(path, max_pixels=None)
    reduced = read_image_rgb(path, max_pixels=40_000)
    assert full.rgb.shape == (400, 300, 3)
    assert reduced.rgb.shape == (200, 150, 3) and reduced.original_hw == (400, 300)
    small = cv2.resize(full.rgb, (150, 200), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(reduced.rgb.astype(int) - small).mean() < 6
    with pytest.raises(ImageReadError, match="over the limit"):
        read_image_rgb(path, max_pixels=1000)  # even 1/8 is too big


def test_16_bit_scaling_is_exact_without_a_float_copy(tmp_path: Path) -> None:
    values = (np.arange(60 * 90 * 3) * 4 % 65536).astype(np.uint16).reshape(60, 90, 3)
    assert cv2.imwrite(str(tmp_path / "deep.png"), values)
    rgb = read_image_rgb(tmp_path / "deep.png").rgb
    np.testing.assert_array_equal(rgb, np.round(values[:, :, ::-1] / 257.0).astype(np.uint8))


@pytest.mark.reliability
def test_every_image_named_entry_is_listed_and_gets_a_sentence(tmp_path: Path) -> None:
    made = make_bad_entries(tmp_path / "in")
    listed = set(list_images(tmp_path / "in"))
    assert set(made.values()) <= listed and len(made) == len(BAD_KINDS) == 17
    reasons = {
        "folder": "is a folder",
        "dangling_symlink": "broken symbolic link",
        "symlink_loop": "symbolic link loop",
        "fifo": "not a regular file",
        "png16_bomb": "over the limit",
    }
    for kind, reason in reasons.items():
        with pytest.raises(ImageReadError, match=reason):
            read_image_rgb(made[kind])


@pytest.mark.reliability
def test_libpng_prints_nothing_for_a_truncated_png(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    data = cv2.imencode(".png", noise)[1].tobytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    os.write(2, b"")  # the descriptor works before
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        read_image_rgb(tmp_path / "cut.png")
    captured = capfd.readouterr()
    assert captured.err == ""
    os.write(2, b"after\n")  # and is restored after
    assert capfd.readouterr().err == "after\n"
