"""Videos: frame sources, tracking, smoothing, outputs with a time axis, and bad video files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_predict
from models.bundle import load_bundle
from predict.predictor import Predictor
from predict.video import (
    BoxTracker,
    FrameSource,
    VideoOptions,
    VideoReadError,
    _VideoWriter,
    _write_videos,
    one_euro,
    one_euro_two_way,
)
from tests.helpers import make_checkpoint

CLIP = Path(__file__).resolve().parents[1] / "demo" / "multi" / "walk_01.mp4"
FRAMES = 5


def test_tracker_keeps_identities_when_the_order_of_detections_changes() -> None:
    tracker = BoxTracker(min_iou=0.2, max_gap=1)
    left, right = np.array([0, 0, 10, 20.0]), np.array([50, 0, 60, 20.0])
    assert tracker.assign(0, [left, right]) == [0, 1]
    assert tracker.assign(1, [right + 1, left + 1]) == [1, 0]
    assert tracker.assign(2, [np.array([100, 0, 110, 20.0])]) == [2]  # nobody was there: a new person
    assert tracker.assign(5, [left]) == [3]  # track 0 was unseen for more than max_gap frames


def test_one_euro_keeps_constants_and_two_way_removes_noise_without_lag() -> None:
    times = torch.arange(60, dtype=torch.float64) / 12.0
    constant = torch.full((60, 2), 3.0, dtype=torch.float64)
    torch.testing.assert_close(one_euro(constant, times, 1.0, 0.3), constant)
    ramp = (0.5 * times)[:, None]  # a steady motion
    causal_lag = (ramp - one_euro(ramp, times, 1.0, 0.0))[10:50].mean()
    two_way_lag = (ramp - one_euro_two_way(ramp, times, 1.0, 0.0))[10:50].abs().mean()
    assert causal_lag > 0.02 and two_way_lag < 0.1 * causal_lag
    signal = torch.sin(2 * math.pi * 0.4 * times)[:, None]
    noisy = signal + 0.1 * torch.randn(60, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    smoothed = one_euro_two_way(noisy, times, 2.0, 0.3)
    assert (smoothed - signal).abs().mean() < 0.6 * (noisy - signal).abs().mean()


def test_a_gap_restarts_the_filter() -> None:
    times = torch.tensor([0.0, 0.1, 0.2, 5.0, 5.1], dtype=torch.float64)
    values = torch.tensor([[0.0], [0.0], [0.0], [10.0], [10.0]], dtype=torch.float64)
    out = one_euro(values, times, 1.0, 0.0, max_gap_s=1.0)
    assert out[3, 0] == 10.0 and out[4, 0] == 10.0


def test_frame_sources_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    with pytest.raises(VideoReadError, match="cannot open"):
        FrameSource.open(fake)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoReadError, match="holds no pictures"):
        FrameSource.open(tmp_path / "empty")


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first frames of the demo clip at half size, as mp4."""
    capture = cv2.VideoCapture(str(CLIP))
    path = tmp_path_factory.mktemp("clip") / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (320, 240))
    for _ in range(FRAMES):
        ok, frame = capture.read()
        assert ok
        writer.write(cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA))
    writer.release()
    capture.release()
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("checkpoint") / "regressor.pt", load_bundle("open"))


def _run(argv: list[str]) -> int:
    return run_predict.main([*argv, "--quiet"])


def test_a_clip_gives_one_npz_with_a_time_axis_and_two_videos(tmp_path, short_clip, checkpoint) -> None:
    out = tmp_path / "out"
    assert (
        _run(["--input", str(short_clip), "--output", str(out), "--checkpoint", str(checkpoint), "--smooth"])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = summary["videos"]
    assert entry["status"] == "ok" and entry["frames"] == FRAMES
    assert entry["frames_without_person"] == []
    with np.load(out / "walk_p0.npz", allow_pickle=False) as data:
        assert data["frame_index"].tolist() == list(range(FRAMES))
        assert data["pose"].shape == (FRAMES, 72) and data["joints2d"].shape == (FRAMES, 17, 2)
        assert data["cam_t"].shape == (FRAMES, 3) and data["focal_length"].shape == ()
        np.testing.assert_array_equal(
            data["betas"], np.repeat(data["betas"][:1], FRAMES, axis=0)
        )  # one shape
    for name, size in (("walk_overlay.mp4", (320, 240)), ("walk_side.mp4", (384, 384))):
        capture = cv2.VideoCapture(str(out / name))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == FRAMES
        assert (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        ) == size
        capture.release()


def test_a_folder_of_frames_lists_the_frames_without_anybody(tmp_path, short_clip, checkpoint) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    capture = cv2.VideoCapture(str(short_clip))
    for index in range(3):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(frames / f"{index:03d}.png"), frame if index != 1 else np.full_like(frame, 90))
    capture.release()
    out = tmp_path / "out"
    argv = ["--input", str(frames), "--video", "--output", str(out), "--checkpoint", str(checkpoint)]
    assert _run([*argv, "--no-overlay", "--no-side", "--fps", "10"]) == 0
    (entry,) = json.loads((out / "summary.json").read_text())["videos"]
    assert entry["frames"] == 3 and entry["frames_without_person"] == [1]
    with np.load(out / "frames_p0.npz", allow_pickle=False) as data:
        assert data["frame_index"].tolist() == [0, 2]
        np.testing.assert_allclose(data["time_s"], [0.0, 0.2])


@pytest.mark.parametrize("kind", ["not_a_video", "truncated", "no_frames"])
@pytest.mark.reliability
def test_bad_videos_end_with_one_sentence_and_exit_zero(
    tmp_path, short_clip, checkpoint, kind, capsys
) -> None:
    path = tmp_path / "bad.mp4"
    if kind == "not_a_video":
        path.write_text("hello")
    elif kind == "truncated":
        path.write_bytes(short_clip.read_bytes()[: short_clip.stat().st_size // 3])
    else:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (320, 240))
        writer.release()
    out = tmp_path / "out"
    assert _run(["--input", str(path), "--output", str(out), "--checkpoint", str(checkpoint)]) == 0
    (entry,) = json.loads((out / "summary.json").read_text())["videos"]
    if entry["status"] == "ok":  # a truncated file may still hold decodable frames: they are used and noted
        assert kind == "truncated" and entry["frames"] < FRAMES
    else:
        reason = entry["reason"]
        assert reason.endswith(".") and reason.count(". ") == 0 and "bad.mp4" in reason
        assert reason in capsys.readouterr().out


@pytest.mark.reliability
def test_a_clip_cut_short_by_an_error_leaves_no_file_under_its_final_name(tmp_path):
    frame = np.full((48, 64, 3), 90, np.uint8)
    whole = _VideoWriter(tmp_path / "whole_overlay", 10.0, (64, 48))
    for _ in range(3):
        whole.write(frame)
    whole.close()
    cut = _VideoWriter(tmp_path / "cut_overlay", 10.0, (64, 48))
    cut.write(frame)
    cut.close(complete=False)
    assert whole.path.is_file() and whole.path.stat().st_size > 0
    assert not cut.path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [whole.path.name]  # no temporary file is left


class _FailingSource(FrameSource):
    """Two frames of a clip, then a decoder error."""

    def frames(self):
        yield np.full((48, 64, 3), 90, np.uint8)
        yield np.full((48, 64, 3), 120, np.uint8)
        raise RuntimeError("the decoder gave up")


@pytest.mark.reliability
def test_an_error_mid_clip_leaves_neither_overlay_nor_side_video(tmp_path, checkpoint):
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    source = _FailingSource(tmp_path / "clip.mp4", 10.0, 3, False)
    nobody = [{"frame_index": np.zeros(0, int), "focal_length": 100.0, "principal_point": np.zeros(2)}]
    with pytest.raises(RuntimeError, match="decoder gave up"):
        _write_videos(source, nobody, predictor, tmp_path, "clip", (48, 64), VideoOptions(overlay=True))
    assert list(tmp_path.iterdir()) == []
