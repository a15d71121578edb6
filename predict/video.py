"""Videos: frames in, people tracked across them, per-person parameters with a time axis out.

A video is a file OpenCV reads (`.mp4`, `.avi`, ...) or a folder of frames (`--video`). Per frame: detect
(with `--people main`, mediapipe in its tracking mode, which follows the person from frame to frame and
runs its person detector only when the track is lost; with `--people all`, `predict.people.find_people` on
every frame), link the people to tracks by the overlap of their boxes with each track's last box, and
regress every person of `batch_size` frames as one batch through `Predictor.predict_proxy`. Frames where
nobody is found are listed in the summary; they stop nothing.

Per track, after the last frame:
- one camera for the clip: the median of the frames' focal lengths; each frame's translation is
  re-expressed for it (t_z scaled by f_clip / f_frame, exact on the body's z = 0 plane like the crop
  camera itself), so that translations of different frames compare;
- one body shape per person per clip (the median of the frames' betas; `per_frame_shape` keeps each
  frame's);
- optional temporal smoothing (`smooth`): a One-Euro filter (Casiez et al., CHI 2012: a low-pass filter
  whose cut-off rises with the signal's speed, so slow jitter is removed and fast motion lags little) on
  each joint rotation's 6D representation and on the translation, run forwards and then backwards over
  the clip (the whole clip is at hand, so the second pass cancels the first one's lag), restarted after a
  gap of more than `max_gap` frames;
- the body model then gives the joints, and the clip camera their 2D projections.

Outputs (`<stem>` = the video's name): `<stem>_p<k>.npz` per person (p0 = the person seen in the most
frames; only p0 with `--people main`): frame_index (T,) int32, time_s (T,), pose (T, 72), pose_rotmats
(T, 24, 3, 3), betas (T, 10), cam_t (T, 3), focal_length () and principal_point (2,) of the clip camera,
bbox (T, 4) crop boxes, joints2d (T, 17, 2), joints2d_detected (T, 17, 3), silhouette_iou (T,) of the
per-frame fit, faces (F, 3), body_model, gender; `<stem>_overlay.mp4` (every tracked person over the
frames, each in their own colour) and `<stem>_side.mp4` (p0 turned 90 degrees); `summary.json`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from predict.detectors.base import DetectorBackend, ImageDetectionError, PersonDetection, box_iou
from predict.group_overlay import render_people_overlay
from predict.outputs import write_json, write_npz
from predict.people import choose_main, find_people
from predict.predictor import Predictor
from predict.views import overlay_size, render_side_views, resize_picture
from utils.cameras import perspective_project
from utils.errors import InputFileError
from utils.image_io import ImageReadError, list_images, read_image_rgb
from utils.rotations import rot6d_to_rotmat, rotmat_to_axis_angle, rotmat_to_rot6d

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_FOLDER_FPS = 25.0
VIDEO_CODECS = (("mp4v", ".mp4"), ("MJPG", ".avi"))  # tried in turn for the output videos


class VideoReadError(InputFileError, ValueError):
    """A video that cannot be opened or holds no frames (one sentence)."""


@dataclass(frozen=True)
class VideoOptions:
    """How to process a video.

    people: "main" (one person, tracked) or "all" (everybody, each tracked).
    smooth: One-Euro filtering of pose and translation; min_cutoff (Hz) and beta per signal: rotations in
        6D units, translations in metres.
    """

    people: str = "main"
    smooth: bool = False
    pose_min_cutoff: float = 2.0
    pose_beta: float = 0.3
    translation_min_cutoff: float = 1.0
    translation_beta: float = 0.0
    per_frame_shape: bool = False
    batch_size: int = 16
    max_people: int = 8
    min_track_iou: float = 0.2  # a person continues a track when their box overlaps its last box this much
    max_gap: int = 5  # frames; a track unseen longer ends, and the filter restarts after such a gap
    fps: float = DEFAULT_FOLDER_FPS  # for folders of frames
    npz: bool = True
    overlay: bool = True
    side: bool = True
    overlay_max_side: int = 1600
    view_size: int = 384
    progress: bool = True


def is_video_file(path: str | Path) -> bool:
    return Path(path).is_file() and Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class FrameSource:
    """Frames of a video file or of a folder of pictures, read in order, as (H, W, 3) uint8 RGB."""

    path: Path
    fps: float
    frame_count: int  # as the container states it (0 when unknown); a folder's picture count
    is_folder: bool

    @classmethod
    def open(cls, path: str | Path, folder_fps: float = DEFAULT_FOLDER_FPS) -> FrameSource:
        """Raises VideoReadError for a video that cannot be opened or a folder without pictures."""
        path = Path(path)
        if path.is_dir():
            count = len(list_images(path))
            if count == 0:
                raise VideoReadError(f"The frame folder {path} holds no pictures.")
            return cls(path, folder_fps, count, True)
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise VideoReadError(
                    f"OpenCV cannot open {path} as a video (not a video, or a codec it lacks)."
                )
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        finally:
            capture.release()
        return cls(path, fps if math.isfinite(fps) and fps > 0 else DEFAULT_FOLDER_FPS, count, False)

    def frames(self) -> Iterator[np.ndarray | None]:
        if self.is_folder:
            for picture in list_images(self.path):
                try:
                    yield read_image_rgb(picture).rgb
                except ImageReadError:
                    yield None  # an unreadable frame: listed as a frame without a person
            return
        capture = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield np.ascontiguousarray(frame[:, :, ::-1])
        finally:
            capture.release()


@dataclass
class _Track:
    """One person across frames: per-frame detections and regressor outputs (CPU tensors)."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    rows: dict[str, list[Tensor]] = field(default_factory=dict)

    def add(self, values: dict[str, Tensor]) -> None:
        for key, value in values.items():
            self.rows.setdefault(key, []).append(value)

    def stacked(self, key: str) -> Tensor:
        return torch.stack(self.rows[key])


class BoxTracker:
    """Links each frame's people to tracks: greedy, highest box IoU first, with each track's last box; a
    person overlapping no live track (IoU < min_iou) starts a new one; tracks unseen for more than max_gap
    frames are not continued."""

    def __init__(self, min_iou: float = 0.2, max_gap: int = 5) -> None:
        self.min_iou, self.max_gap = min_iou, max_gap
        self.last: list[tuple[int, np.ndarray]] = []  # per track: (last frame, last box)

    def assign(self, frame: int, boxes: list[np.ndarray]) -> list[int]:
        live = [k for k, (seen, _) in enumerate(self.last) if frame - seen <= self.max_gap + 1]
        pairs = []
        if boxes and live:
            ious = box_iou(np.stack(boxes), np.stack([self.last[k][1] for k in live]))  # (people, live)
            pairs = sorted(
                ((float(ious[i, j]), i, k) for i in range(len(boxes)) for j, k in enumerate(live)),
                reverse=True,
            )
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for iou, i, k in pairs:
            if iou < self.min_iou:
                break
            if ids[i] is None and k not in used:
                ids[i] = k
                used.add(k)
        assigned: list[int] = []
        for i, box in enumerate(boxes):
            track = ids[i]
            if track is None:
                track = len(self.last)
                self.last.append((frame, box))
            else:
                self.last[track] = (frame, box)
            assigned.append(track)
        return assigned


def one_euro(
    values: Tensor,
    times: Tensor,
    min_cutoff: float,
    beta: float,
    d_cutoff: float = 1.0,
    max_gap_s: float = 1.0,
) -> Tensor:
    """One-Euro filter along the first axis: values (T, D) sampled at times (T,) seconds -> (T, D).

    Per sample: the derivative is low-passed at d_cutoff Hz, the value at min_cutoff + beta * |derivative|
    Hz (per dimension). A gap longer than max_gap_s restarts the filter.
    """
    out = values.clone()
    smoothed, derivative = values[0], torch.zeros_like(values[0])
    for t in range(1, len(values)):
        step = float(times[t] - times[t - 1])
        if step <= 0 or step > max_gap_s:
            smoothed, derivative = values[t], torch.zeros_like(values[t])
            continue
        derivative = _blend(_alpha(d_cutoff, step), (values[t] - smoothed) / step, derivative)
        cutoff = min_cutoff + beta * derivative.abs()
        smoothed = _blend(_alpha(cutoff, step), values[t], smoothed)
        out[t] = smoothed
    return out


def one_euro_two_way(
    values: Tensor,
    times: Tensor,
    min_cutoff: float,
    beta: float,
    d_cutoff: float = 1.0,
    max_gap_s: float = 1.0,
) -> Tensor:
    """`one_euro` forwards, then backwards over its output: no lag, for a sequence known in full."""
    forward = one_euro(values, times, min_cutoff, beta, d_cutoff, max_gap_s)
    return one_euro(forward.flip(0), -times.flip(0), min_cutoff, beta, d_cutoff, max_gap_s).flip(0)


def _alpha(cutoff: Tensor | float, step: float) -> Tensor | float:
    """Smoothing factor of a first-order low-pass with this cut-off (Hz) for a sample interval (s)."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / step)


def _blend(alpha: Tensor | float, new: Tensor, old: Tensor) -> Tensor:
    return alpha * new + (1.0 - alpha) * old


def predict_video(
    source: FrameSource,
    predictor: Predictor,
    detector: DetectorBackend,
    output_dir: Path,
    stem: str,
    options: VideoOptions | None = None,
) -> dict[str, Any]:
    """Track, regress, smooth and write one video's outputs into `output_dir`; returns its summary entry.

    Raises:
        VideoReadError: the video holds no frame that can be decoded.
    """
    options = options or VideoOptions()
    timings: dict[str, float] = {"read": 0.0, "detect": 0.0, "regress": 0.0}
    tracker = BoxTracker(options.min_track_iou, options.max_gap)
    tracks: dict[int, _Track] = {}
    missing: list[int] = []
    frame_hw: tuple[int, int] | None = None
    count = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    chunk: list[tuple[int, PersonDetection, int]] = []  # (frame, person, track)
    total = source.frame_count or None
    with tqdm(total=total, unit="frame", disable=not options.progress, dynamic_ncols=True) as bar:
        frames = source.frames()
        while True:
            tick = time.perf_counter()
            frame: np.ndarray | None | Literal[False] = next(frames, False)
            timings["read"] += _ms_since(tick)
            if frame is False:
                break
            index, count = count, count + 1
            bar.update(1)
            if frame is None or (frame_hw is not None and frame.shape[:2] != frame_hw):
                missing.append(index)  # unreadable, or not the clip's size
                continue
            frame_hw = (frame.shape[0], frame.shape[1])
            tick = time.perf_counter()
            people = _detect(detector, frame, options)
            timings["detect"] += _ms_since(tick)
            if not people:
                missing.append(index)
                continue
            ids = tracker.assign(index, [person.box for person in people])
            chunk += [(index, person, track) for person, track in zip(people, ids, strict=True)]
            if len({item[0] for item in chunk}) >= options.batch_size:
                timings["regress"] += _regress(chunk, predictor, tracks)
                chunk = []
        if chunk:
            timings["regress"] += _regress(chunk, predictor, tracks)
    if count == 0:
        raise VideoReadError(f"{source.path} holds no frame that OpenCV can decode (empty or damaged).")
    entry: dict[str, Any] = {
        "path": str(source.path),
        "status": "ok",
        "frames": count,
        "fps": round(source.fps, 3),
        "frames_without_person": missing,
    }
    if source.frame_count and count < source.frame_count and not source.is_folder:
        entry["note"] = (
            f"Only {count} of the {source.frame_count} frames the file announces could be decoded."
        )
    if not tracks:
        entry.update(status="failed", reason="No person found in any frame of this video.")
        return entry
    ranked = sorted(tracks, key=lambda k: (-len(tracks[k].frames), k))  # p0: seen in the most frames
    if options.people == "main":
        ranked = ranked[:1]
    tick = time.perf_counter()
    finals = [_finish_track(tracks[k], predictor, source.fps, options) for k in ranked]
    timings["smooth_and_pose"] = _ms_since(tick)
    people_entries = []
    tick = time.perf_counter()
    for person, final in enumerate(finals):
        outputs = []
        if options.npz:
            path = output_dir / f"{stem}_p{person}.npz"
            write_npz(path, {key: value for key, value in final.items() if not key.startswith("_")})
            outputs.append(path.name)
        people_entries.append(
            {"person": person, "frames": int(len(final["frame_index"])), "outputs": outputs}
        )
    timings["write"] = _ms_since(tick)
    entry["people"] = people_entries
    if options.overlay or options.side:
        assert frame_hw is not None  # set by the frame a person was found in
        tick = time.perf_counter()
        entry["outputs"] = _write_videos(source, finals, predictor, output_dir, stem, frame_hw, options)
        timings["videos"] = _ms_since(tick)
    elapsed = time.perf_counter() - start
    entry["time_s"] = round(elapsed, 3)
    entry["frames_per_second"] = round(count / elapsed, 3)
    # Processor time of this process (all its threads): what the frames cost, however busy the machine was.
    entry["cpu_ms_per_frame"] = round(1000.0 * (time.process_time() - cpu_start) / count, 3)
    entry["timings_ms_per_frame"] = {stage: round(ms / count, 3) for stage, ms in timings.items()}
    return entry


def _detect(detector: DetectorBackend, frame: np.ndarray, options: VideoOptions) -> list[PersonDetection]:
    try:
        if options.people == "all":
            return find_people(detector, frame, None, options.max_people).people
        person = choose_main(detector.detect(frame), (frame.shape[0], frame.shape[1]))
    except ImageDetectionError:
        return []
    return [person] if person is not None else []


def _regress(chunk: list[tuple[int, PersonDetection, int]], predictor: Predictor, tracks: dict) -> float:
    """Regress every person of a chunk of frames as one batch and file the rows under their tracks."""
    tick = time.perf_counter()
    batch = predictor.predict_proxy(
        [person.mask for _, person, _ in chunk], np.stack([person.keypoints for _, person, _ in chunk])
    )
    for row, (frame, person, track) in enumerate(chunk):
        entry = tracks.setdefault(track, _Track())
        entry.frames.append(frame)
        entry.boxes.append(person.box)
        entry.add(
            {
                "pose_rotmats": batch.pose_rotmats[row].cpu(),
                "betas": batch.betas[row].cpu(),
                "cam_t": batch.cam_t[row].cpu(),
                "focal_length": batch.focal_length[row].cpu(),
                "principal_point": batch.principal_point[row].cpu(),
                "bbox": batch.bbox[row].cpu(),
                "joints2d_detected": batch.joints2d_detected[row].cpu(),
                "silhouette_iou": batch.silhouette_iou[row].cpu(),
            }
        )
    return _ms_since(tick)


@torch.inference_mode()
def _finish_track(track: _Track, predictor: Predictor, fps: float, options: VideoOptions) -> dict[str, Any]:
    """One camera for the clip, one shape, optional smoothing, then the body model: the npz arrays (and,
    under keys starting with "_", the tensors the videos need)."""
    frames = torch.tensor(track.frames, dtype=torch.int32)
    times = frames.double() / fps
    rotmats = track.stacked("pose_rotmats")
    betas = track.stacked("betas")
    cam_t = track.stacked("cam_t")
    focal = track.stacked("focal_length")
    clip_focal = focal.median()
    cam_t = torch.cat((cam_t[:, :2], cam_t[:, 2:] * (clip_focal / focal)[:, None]), dim=1)
    if not options.per_frame_shape:
        betas = betas.median(dim=0).values.expand_as(betas).clone()
    if options.smooth:
        gap = (options.max_gap + 1) / fps
        rot6d = rotmat_to_rot6d(rotmats).reshape(len(frames), -1).double()
        rot6d = one_euro_two_way(rot6d, times, options.pose_min_cutoff, options.pose_beta, max_gap_s=gap)
        rotmats = rot6d_to_rotmat(rot6d.float().reshape(len(frames), 24, 6))
        cam_t = one_euro_two_way(
            cam_t.double(), times, options.translation_min_cutoff, options.translation_beta, max_gap_s=gap
        ).float()
    device = predictor.device
    principal_point = track.stacked("principal_point")[0]
    vertices, joints = [], []
    for first in range(0, len(frames), 64):
        part = slice(first, first + 64)
        body = predictor.bundle(rotmats[part].to(device), betas[part].to(device))
        vertices.append((body.vertices + cam_t[part, None].to(device)).cpu())
        joints.append(body.coco17.cpu())
    coco17 = torch.cat(joints) + cam_t[:, None]  # camera frame
    joints2d = perspective_project(coco17, float(clip_focal), principal_point)
    return {
        "frame_index": frames.numpy(),
        "time_s": times.float().numpy(),
        "pose": rotmat_to_axis_angle(rotmats).reshape(len(frames), 72).numpy(),
        "pose_rotmats": rotmats.numpy(),
        "betas": betas.numpy(),
        "cam_t": cam_t.numpy(),
        "focal_length": np.float32(clip_focal),
        "principal_point": principal_point.numpy(),
        "bbox": track.stacked("bbox").numpy(),
        "joints2d": joints2d.float().numpy(),
        "joints2d_detected": track.stacked("joints2d_detected").numpy(),
        "silhouette_iou": track.stacked("silhouette_iou").numpy(),
        "faces": predictor.bundle.faces.cpu().numpy().astype(np.int32),
        "body_model": np.array(predictor.bundle.kind),
        "gender": np.array(predictor.bundle.gender),
        "_vertices": torch.cat(vertices),
    }


@dataclass
class _Meshes:
    """What `render_side_views` reads of a batch: camera-frame vertices (B, V, 3) and faces (F, 3)."""

    vertices: Tensor
    faces: Tensor


def _write_videos(
    source: FrameSource,
    finals: list[dict[str, Any]],
    predictor: Predictor,
    output_dir: Path,
    stem: str,
    frame_hw: tuple[int, int],
    options: VideoOptions,
) -> list[str]:
    """The overlay video (everybody tracked) and the side-view video (p0), frame by frame."""
    lookup = [{int(f): row for row, f in enumerate(final["frame_index"])} for final in finals]
    faces = predictor.bundle.faces
    device = predictor.device
    writers: dict[str, _VideoWriter] = {}
    complete = False
    try:
        for index, frame in enumerate(source.frames()):
            if frame is None or frame.shape[:2] != frame_hw:
                continue
            present = [(k, lookup[k][index]) for k in range(len(finals)) if index in lookup[k]]
            if options.overlay:
                if present:
                    vertices = torch.stack([finals[k]["_vertices"][row] for k, row in present]).to(device)
                    focal = torch.tensor(
                        [float(finals[k]["focal_length"]) for k, _ in present], device=device
                    )
                    principal = torch.from_numpy(finals[0]["principal_point"]).to(device)
                    picture, _ = render_people_overlay(
                        vertices, faces, focal, principal, frame_hw, frame, options.overlay_max_side
                    )
                else:
                    picture = resize_picture(frame, overlay_size(frame_hw, options.overlay_max_side)[0])
                _writer(writers, "overlay", output_dir, stem, picture, source.fps).write(picture)
            if options.side:
                if index in lookup[0]:
                    mesh = finals[0]["_vertices"][lookup[0][index]][None].to(device)
                    picture = render_side_views(_Meshes(mesh, faces), options.view_size)[0]
                else:
                    picture = np.full((options.view_size, options.view_size, 3), 235, np.uint8)
                _writer(writers, "side", output_dir, stem, picture, source.fps).write(picture)
        complete = True
    finally:
        for writer in writers.values():
            writer.close(complete)
    return [writer.path.name for writer in writers.values()]


class _VideoWriter:
    """An OpenCV video writer for RGB pictures: mp4v (.mp4), else MJPG (.avi) where this OpenCV has no mp4
    encoder. Written to a temporary name and renamed when complete."""

    def __init__(self, base: Path, fps: float, size_wh: tuple[int, int]) -> None:
        for codec, suffix in VIDEO_CODECS:
            self.path = base.with_name(base.name + suffix)
            self._tmp = self.path.with_name(f".{self.path.stem}.tmp{suffix}")
            fourcc = cv2.VideoWriter_fourcc(*codec)  # type: ignore[attr-defined]  # missing from cv2's stubs
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, fps, size_wh)
            if self._writer.isOpened():
                return
        raise OSError(f"OpenCV can write neither mp4v nor MJPG videos here; {base} was not written.")

    def write(self, rgb: np.ndarray) -> None:
        self._writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))

    def close(self, complete: bool = True) -> None:
        """Finish the file: renamed to its final name when `complete`, else removed, so that a clip cut
        short by an error is never left under the name of a whole one."""
        self._writer.release()
        if complete:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def _writer(
    writers: dict[str, _VideoWriter], kind: str, output_dir: Path, stem: str, picture: np.ndarray, fps: float
) -> _VideoWriter:
    if kind not in writers:
        size = (picture.shape[1], picture.shape[0])
        writers[kind] = _VideoWriter(output_dir / f"{stem}_{kind}", fps, size)
    return writers[kind]


def write_video_summary(output_dir: Path, run: dict[str, Any], videos: list[dict[str, Any]]) -> Path:
    """summary.json of a video run: the run's facts and one entry per video."""
    return write_json(output_dir / "summary.json", {"run": run, "videos": videos})


def _ms_since(start: float) -> float:
    return 1000.0 * (time.perf_counter() - start)
