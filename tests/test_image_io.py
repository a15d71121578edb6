"""utils/image_io.py: every kind of image file becomes upright 8-bit RGB, bad ones raise one clear error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import jpeg_with_exif_orientation, quadrant_image, write_rgb
from utils.image_io import ImageReadError, InputPathError, list_images, read_image_rgb


def test_colour_png_reads_back_exactly_as_rgb(tmp_path: Path) -> None:
    rgb = quadrant_image()
    loaded = read_image_rgb(write_rgb(tmp_path / "a.png", rgb))
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == rgb.shape
    np.testing.assert_array_equal(loaded.rgb, rgb)
    assert loaded.scale == 1.0 and loaded.original_hw == (32, 48)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgb = read_image_rgb(tmp_path / "g.png").rgb
    assert rgb.shape == (20, 30, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], gray)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_is_scaled_to_8_bit(tmp_path: Path, suffix: str) -> None:
    levels = np.random.default_rng(1).integers(0, 256, (10, 12, 3)).astype(np.uint16)
    levels[0, 0] = 255
    bgr16 = levels * 257  # 8-bit level k stored as 16-bit k * 257
    assert cv2.imwrite(str(tmp_path / f"c16{suffix}"), bgr16)
    rgb = read_image_rgb(tmp_path / f"c16{suffix}").rgb
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, levels[:, :, ::-1].astype(np.uint8))
    assert cv2.imwrite(str(tmp_path / f"g16{suffix}"), np.full((4, 5), 65535, np.uint16))
    assert (read_image_rgb(tmp_path / f"g16{suffix}").rgb == 255).all()


def test_float_tiff_is_taken_as_unit_range(tmp_path: Path) -> None:
    values = np.array([[[-0.5, 0.0, 0.5], [1.0, 2.0, 0.25]]], dtype=np.float32)  # BGR
    # Uncompressed: OpenCV's default for float colour TIFF is the lossy SGILOG encoding.
    assert cv2.imwrite(str(tmp_path / "f.tif"), values, [cv2.IMWRITE_TIFF_COMPRESSION, 1])
    rgb = read_image_rgb(tmp_path / "f.tif").rgb
    np.testing.assert_array_equal(rgb, np.array([[[128, 0, 0], [64, 255, 255]]], dtype=np.uint8))


def test_alpha_channel_is_dropped(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    bgra = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    np.testing.assert_array_equal(read_image_rgb(tmp_path / "rgba.png").rgb, bgra[:, :, 2::-1])


def test_palette_and_gray_alpha_pngs(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")  # test-only: Pillow is not a project dependency
    rgb = quadrant_image()
    image_module.fromarray(rgb).quantize(colors=4).save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_image_rgb(tmp_path / "palette.png").rgb, rgb)
    gray_alpha = np.dstack([rgb[:, :, 0], np.full(rgb.shape[:2], 40, np.uint8)])
    image_module.fromarray(gray_alpha, mode="LA").save(tmp_path / "la.png")
    loaded = read_image_rgb(tmp_path / "la.png").rgb
    np.testing.assert_array_equal(loaded, np.repeat(rgb[:, :, :1], 3, axis=2))


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (1, lambda a: a),
        (2, np.fliplr),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),  # stored rotated: turn 90 degrees clockwise to display
        (8, lambda a: np.rot90(a, 1)),
    ],
)
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, upright) -> None:
    stored = quadrant_image()
    path = tmp_path / f"exif{orientation}.jpg"
    path.write_bytes(jpeg_with_exif_orientation(stored, orientation))
    loaded = read_image_rgb(path)
    expected = upright(stored)
    assert loaded.rgb.shape == expected.shape
    assert loaded.original_hw == expected.shape[:2]
    assert np.abs(loaded.rgb.astype(int) - expected.astype(int)).mean() < 4.0  # JPEG error only


def test_very_large_image_is_downscaled_and_maps_back(tmp_path: Path) -> None:
    rgb = np.zeros((300, 8000, 3), dtype=np.uint8)
    rgb[100:200, 4000:4400] = 255
    path = write_rgb(tmp_path / "wide.png", rgb)
    loaded = read_image_rgb(path)  # default max_side 4096
    assert loaded.rgb.shape == (154, 4096, 3)
    assert loaded.original_hw == (300, 8000)
    assert loaded.scale == pytest.approx(4096 / 8000)
    rows, cols = np.nonzero(loaded.rgb[:, :, 0] > 127)
    corners = loaded.to_original(np.array([[cols.min(), rows.min()], [cols.max() + 1, rows.max() + 1]]))
    np.testing.assert_allclose(corners, [[4000, 100], [4400, 200]], atol=2.5)
    assert read_image_rgb(path, max_side=None).rgb.shape == (300, 8000, 3)
    assert read_image_rgb(path, max_side=1000).rgb.shape == (38, 1000, 3)


def test_max_side_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_side"):
        read_image_rgb(write_rgb(tmp_path / "a.png", quadrant_image()), max_side=0)


def make_bad_files(folder: Path) -> dict[str, Path]:
    good_png = cv2.imencode(".png", quadrant_image(64, 64))[1].tobytes()
    files = {
        "missing": folder / "missing.jpg",
        "empty": folder / "empty.png",
        "text": folder / "notes.png",
        "random": folder / "noise.jpg",
        "truncated": folder / "truncated.png",
        "folder": folder / "folder.jpg",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not an image\n")
    files["random"].write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    files["truncated"].write_bytes(good_png[: len(good_png) // 2])
    files["folder"].mkdir()
    return files


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("text", "is not an image"),
        ("random", "is not an image"),
        ("truncated", "corrupt or truncated"),
        ("folder", "is a folder"),
    ],
)
@pytest.mark.reliability
def test_bad_files_raise_one_sentence_and_print_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture, kind: str, reason: str
) -> None:
    path = make_bad_files(tmp_path)[kind]
    with pytest.raises(ImageReadError) as error:
        read_image_rgb(path)
    message = str(error.value)
    assert reason in message and str(path) in message
    assert "\n" not in message and message.endswith(".")
    captured = capfd.readouterr()  # no OpenCV warning lines besides our exception
    assert captured.err == "" and captured.out == ""


def test_list_images_of_a_folder(tmp_path: Path) -> None:
    names = ["b.JPG", "a.png", "c.jpeg", "d.webp", "e.tif", "f.TIFF", "g.bmp", "notes.txt", ".hidden.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "h.png").write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()  # listed, so that the run reports it as a folder, not an image
    listed = [p.name for p in list_images(tmp_path)]
    assert listed == ["a.png", "b.JPG", "c.jpeg", "d.webp", "e.tif", "f.TIFF", "g.bmp", "sub.jpg"]
    recursive = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, recursive=True)]
    assert recursive == listed + ["sub/h.png"]


def test_list_images_of_a_file_a_pattern_and_bad_paths(tmp_path: Path) -> None:
    for name in ["x1.jpg", "x2.png", "y.jpg", "x3.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert list_images(tmp_path / "x3.txt") == [tmp_path / "x3.txt"]  # named explicitly: kept, reported later
    assert [p.name for p in list_images(tmp_path / "x*")] == ["x1.jpg", "x2.png"]
    assert list_images(tmp_path / "z*.jpg") == []
    (tmp_path / "empty").mkdir()
    assert list_images(tmp_path / "empty") == []
    with pytest.raises(InputPathError, match="does not exist"):
        list_images(tmp_path / "nowhere")
