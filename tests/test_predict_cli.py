"""run_predict.py as a user runs it: every kind of bad or odd input, usage and asset errors, exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_predict
from predict.outputs import OUTPUT_KINDS
from predict.people import NO_PERSON
from tests.helpers import (
    jpeg_with_exif_orientation,
    make_checkpoint,
    render_person,
    write_precomputed,
    write_rgb,
)

GOOD = ("good1", "good2", "gray", "rgba", "deep16", "exif", "large")
BAD_REASONS = {
    "corrupt": "corrupt or truncated",
    "notes": "is not an image",
    "empty": "is empty",
    "blank": NO_PERSON,
    "nomask": "No precomputed mask",
    "tiny": "The person found is 16 px tall: too small for a usable fit",
}


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = run_predict.main([*argv, "--quiet"])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory, bundle) -> tuple[Path, Path]:
    """Good images in every odd format (one in a sub-folder) beside bad files of every kind, with their
    precomputed masks and keypoints (at the upright size of each image)."""
    root = tmp_path_factory.mktemp("mixed")
    images, masks = root / "images", root / "masks"
    (images / "sub").mkdir(parents=True)
    masks.mkdir()
    rgb, mask, keypoints = render_person(bundle, 10, (320, 240))
    write_rgb(images / "good1.jpg", rgb, cv2.IMWRITE_JPEG_QUALITY, 95)
    other = render_person(bundle, 11, (320, 240))
    write_rgb(images / "sub" / "good2.png", other[0])
    write_precomputed(masks, "good2", *other[1:])
    assert cv2.imwrite(str(images / "gray.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    rgba = np.concatenate([rgb[:, :, ::-1], np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
    assert cv2.imwrite(str(images / "rgba.png"), rgba)
    assert cv2.imwrite(str(images / "deep16.png"), rgb[:, :, ::-1].astype(np.uint16) * 257)
    # Stored turned a quarter clockwise-back: only EXIF orientation 6 makes it upright (320 x 240 again).
    (images / "exif.jpg").write_bytes(jpeg_with_exif_orientation(np.rot90(rgb, 1), 6))
    for stem in ("good1", "gray", "rgba", "deep16", "exif"):
        write_precomputed(masks, stem, mask, keypoints)
    # 8000 x 6000 (downscaled on reading): the person drawn at 25x.
    big = 25
    write_rgb(images / "large.jpg", cv2.resize(rgb, None, fx=big, fy=big, interpolation=cv2.INTER_NEAREST))
    big_mask = cv2.resize(mask.astype(np.uint8), None, fx=big, fy=big, interpolation=cv2.INTER_NEAREST)
    big_keypoints = keypoints.copy()
    big_keypoints[:, :2] *= big
    write_precomputed(masks, "large", big_mask.astype(bool), big_keypoints)

    encoded = cv2.imencode(".jpg", rgb)[1].tobytes()
    (images / "corrupt.jpg").write_bytes(encoded[: len(encoded) // 3])
    (images / "notes.jpg").write_text("not a picture\n")
    (images / "empty.png").write_bytes(b"")
    write_rgb(images / "blank.png", np.full((200, 300, 3), 128, np.uint8))
    write_precomputed(masks, "blank", np.zeros((200, 300), bool), np.zeros((17, 3), np.float32))
    write_rgb(images / "nomask.png", rgb)
    # A 12 x 16 picture that is all person: refused by its height, not given a body.
    tiny_keypoints = np.stack([np.linspace(1, 11, 17), np.linspace(1, 15, 17), np.ones(17)], axis=1)
    write_rgb(images / "tiny.png", np.full((16, 12, 3), 128, np.uint8))
    write_precomputed(masks, "tiny", np.ones((16, 12), bool), tiny_keypoints.astype(np.float32))
    return images, masks


@pytest.mark.reliability
def test_bad_inputs_cost_one_summary_line_each(
    mixed_folder: tuple[Path, Path], checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    images, masks = mixed_folder
    output = tmp_path / "out"
    argv = ["--input", str(images), "--recursive", "--output", str(output), "--checkpoint", str(checkpoint)]
    code, err = run([*argv, "--silh_from", "precomputed", "--mask_dir", str(masks)], capsys)
    assert code == 0 and "Traceback" not in err
    summary = json.loads((output / "summary.json").read_text())
    entries = {Path(entry["path"]).stem: entry for entry in summary["images"]}
    assert set(entries) == set(GOOD) | set(BAD_REASONS)
    assert (summary["run"]["n_ok"], summary["run"]["n_failed"]) == (len(GOOD), len(BAD_REASONS))
    for stem in GOOD:
        entry = entries[stem]
        assert entry["status"] == "ok", (stem, entry.get("reason"))
        assert len(entry["outputs"]) == len(OUTPUT_KINDS)
        assert all((output / name).is_file() for name in entry["outputs"])
    assert "sub/good2.npz" in entries["good2"]["outputs"]  # sub-folders are mirrored
    for stem, reason in BAD_REASONS.items():
        entry = entries[stem]
        assert entry["status"] == "failed" and reason in entry["reason"], (stem, entry)
        assert "outputs" not in entry and "fit" not in entry
    files = [path for path in output.rglob("*") if path.is_file() and path.name != ".straps_run.lock"]
    written = {path.name.split(".")[0].split("_")[0] for path in files}
    assert written == set(GOOD) | {"summary", "records", "report"}  # nothing at all for the bad ones
    assert not any(path.name.startswith(".") for path in files)  # no temporary files left

    # Odd formats give the same body as the plain image: same mask and joints, same pixels or nearly.
    def npz(stem: str) -> dict[str, np.ndarray]:
        with np.load(output / f"{stem}.npz") as data:
            return {key: data[key] for key in ("bbox", "focal_length", "cam_t", "vertices")}

    reference = npz("good1")
    for stem in ("gray", "rgba", "deep16", "exif"):
        for key, value in npz(stem).items():
            np.testing.assert_allclose(value, reference[key], rtol=1e-5, atol=1e-4, err_msg=f"{stem} {key}")
    large = npz("large")  # measured on the 4096-pixel copy, reported in the file's 8000 x 6000 pixels
    np.testing.assert_allclose(large["bbox"], reference["bbox"] * 25, rtol=0.01, atol=25)
    assert float(large["focal_length"]) == pytest.approx(float(reference["focal_length"]) * 25, rel=0.01)
    np.testing.assert_allclose(large["cam_t"], reference["cam_t"], rtol=0.02, atol=0.05)
    assert entries["large"]["overlay_scale"] == pytest.approx(1600 / 8000)
    assert cv2.imread(str(output / "large_overlay.png")).shape == (1600, 1200, 3)  # H x W


@pytest.mark.parametrize(
    ("make_argv", "code", "message"),
    [
        (lambda tmp, ckpt: ["--input", str(tmp / "nowhere")], 2, "does not exist"),
        (lambda tmp, ckpt: ["--input", str(tmp / "empty")], 2, "No image files found"),
        (
            lambda tmp, ckpt: ["--input", str(tmp / "in"), "--output", str(tmp / "in" / "out")],
            2,
            "inside the input",
        ),
        (lambda tmp, ckpt: ["--input", str(tmp / "in"), "--silh_from", "precomputed"], 2, "needs --mask_dir"),
        (
            lambda tmp, ckpt: [
                "--input",
                str(tmp / "in"),
                "--silh_from",
                "mediapipe",
                "--joints_from",
                "precomputed",
            ],
            2,
            "cannot be combined",
        ),
        (lambda tmp, ckpt: ["--input", str(tmp / "in"), "--batch_size", "0"], 2, "--batch_size"),
        (
            lambda tmp, ckpt: ["--input", str(tmp / "in"), "--checkpoint", str(tmp / "no.pt")],
            1,
            "does not exist",
        ),
        (
            lambda tmp, ckpt: ["--input", str(tmp / "in"), "--checkpoint", str(ckpt), "--body_model", "smpl"],
            1,
            "trained with the open body model",
        ),
    ],
)
def test_usage_and_asset_errors_exit_with_one_sentence(
    tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture, make_argv, code: int, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "in").mkdir()
    write_rgb(tmp_path / "in" / "a.png", np.zeros((8, 8, 3), np.uint8))
    exit_code, err = run(make_argv(tmp_path, checkpoint), capsys)
    assert exit_code == code and message in err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "in_straps_output").exists()  # nothing written


def test_missing_assets_say_what_to_do(
    tmp_path: Path, bundle, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in").mkdir()
    write_rgb(tmp_path / "in" / "a.png", np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(run_predict, "DEFAULT_CHECKPOINT", tmp_path / "not_trained_yet.pt")
    code, err = run(["--input", str(tmp_path / "in")], capsys)
    assert code == 1 and "pass --checkpoint" in err and err.count("\n") == 1
    # A checkpoint that records no body model, with the SMPL model asked for but not installed.
    bare = make_checkpoint(tmp_path / "bare.pt", bundle, record_body_model=False)
    argv = ["--input", str(tmp_path / "in"), "--checkpoint", str(bare), "--body_model", "smpl"]
    code, err = run([*argv, "--additional_dir", str(tmp_path / "no_assets")], capsys)
    assert code == 1 and "SMPL_NEUTRAL.pkl" in err and err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_on_a_cpu_machine_is_a_usage_error(tmp_path: Path, checkpoint: Path, capsys) -> None:
    write_rgb(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code, err = run(
        ["--input", str(tmp_path / "a.png"), "--checkpoint", str(checkpoint), "--device", "cuda"], capsys
    )
    assert code == 2 and "--device cpu" in err


def test_help_explains_every_option() -> None:
    text = run_predict.build_parser().format_help()
    for option in [
        "--input",
        "--output",
        "--checkpoint",
        "--body_model",
        "--gender",
        "--silh_from",
        "--joints_from",
    ]:
        assert option in text
    for option in ["--device", "--batch_size", "--joint_threshold", "--mask_dir", "--recursive"]:
        assert option in text
    for kind in OUTPUT_KINDS:
        assert f"--{kind}, --no-{kind}" in text
