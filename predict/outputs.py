"""Output files of a prediction run: per image `<stem>.npz`, `<stem>.obj` and PNG pictures; `summary.json`.

`<stem>.npz` (float32 arrays; `faces` int32; `body_model` and `gender` strings), all in the pixels and the
camera of the original image (the file as stored, upright after EXIF):
    pose (72,) axis-angle, pose_rotmats (24, 3, 3), betas (10,), cam_wp (3,) crop camera [s, tx, ty],
    bbox (4,) crop box [x0, y0, x1, y1], focal_length () pixels, principal_point (2,), cam_t (3,),
    vertices (V, 3) posed in the camera frame (projecting them with focal_length and principal_point
    overlays the person), faces (F, 3), joints2d (17, 2) predicted, joints2d_detected (17, 3) [u, v,
    confidence], tpose_vertices (V, 3) zero pose in the body-model frame, body_model, gender; when the fit
    refinement ran, these hold its result and pose_regressor, pose_rotmats_regressor, betas_regressor,
    cam_wp_regressor, cam_t_regressor the regressor's own.
`<stem>.obj`: the posed camera-frame mesh, faces 1-based.
Pictures: `<stem>_overlay.png`, `<stem>_side.png`, `<stem>_tpose.png`, `<stem>_proxy.png`.
`summary.json`: {"run": {...}, "images": [{"path", "status", "reason"?, "timings_ms", "fit", "outputs",
"overlay_scale"?}]}, see `build_summary`.
Files are written whole or not at all (temporary file, then rename), so an interrupted run leaves no
half-written output.
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsFloat

import cv2
import numpy as np
from torch import Tensor

from predict.predictor import PredictionBatch
from utils.runtime import atomic_path

OUTPUT_KINDS = ("npz", "obj", "overlay", "side", "tpose", "proxy")
PICTURE_SUFFIXES = {
    "overlay": "_overlay.png",
    "side": "_side.png",
    "tpose": "_tpose.png",
    "proxy": "_proxy.png",
}


@dataclass(frozen=True)
class OutputOptions:
    """Which files to write per image, and the picture sizes."""

    npz: bool = True
    obj: bool = True
    overlay: bool = True
    side: bool = True
    tpose: bool = True
    proxy: bool = True
    overlay_max_side: int = 1600  # larger images are downscaled for the overlay picture
    view_size: int = 384  # side and T-pose pictures are view_size x view_size
    exports: tuple[str, ...] = ()  # extra formats (predict.exports.EXPORT_FORMATS): "glb", "bvh"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The enabled output kinds, in OUTPUT_KINDS order."""
        return tuple(kind for kind in OUTPUT_KINDS if getattr(self, kind))


@dataclass
class ImageResult:
    """One image's line in summary.json."""

    path: str
    status: str = "ok"  # "ok" or "failed"
    reason: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    fit: dict[str, Any] | None = None
    outputs: list[str] = field(default_factory=list)
    overlay_scale: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # further entries: found_by, people, ...

    def fail(self, reason: str) -> None:
        self.status, self.reason, self.fit, self.outputs = "failed", reason, None, []
        self.details.pop("people", None)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.reason is not None:
            entry["reason"] = self.reason
        entry["timings_ms"] = {stage: round(ms, 3) for stage, ms in self.timings_ms.items()}
        if self.status == "ok":
            entry["fit"] = self.fit
            entry["outputs"] = self.outputs
            if self.overlay_scale is not None:
                entry["overlay_scale"] = self.overlay_scale
        entry.update(self.details)
        return entry


def prediction_arrays(
    batch: PredictionBatch, row: int, body_model: str, gender: str
) -> dict[str, np.ndarray]:
    """The npz content of one row of a batch (see the module docstring)."""

    def f32(tensor: Tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy().astype(np.float32)

    arrays = {
        "pose": f32(batch.pose[row]),
        "pose_rotmats": f32(batch.pose_rotmats[row]),
        "betas": f32(batch.betas[row]),
        "cam_wp": f32(batch.cam_wp[row]),
        "bbox": f32(batch.bbox[row]),
        "focal_length": f32(batch.focal_length[row]),
        "principal_point": f32(batch.principal_point[row]),
        "cam_t": f32(batch.cam_t[row]),
        "vertices": f32(batch.vertices[row]),
        "faces": batch.faces.detach().cpu().numpy().astype(np.int32),
        "joints2d": f32(batch.joints2d[row]),
        "joints2d_detected": f32(batch.joints2d_detected[row]),
        "tpose_vertices": f32(batch.tpose_vertices[row]),
        "body_model": np.array(body_model),
        "gender": np.array(gender),
    }
    if batch.regressor is not None:  # the regressor's own result beside the refined one
        regressor = batch.regressor
        arrays |= {
            "pose_regressor": f32(regressor.pose[row]),
            "pose_rotmats_regressor": f32(regressor.pose_rotmats[row]),
            "betas_regressor": f32(regressor.betas[row]),
            "cam_wp_regressor": f32(regressor.cam_wp[row]),
            "cam_t_regressor": f32(regressor.cam_t[row]),
        }
    return arrays


def fit_scores(batch: PredictionBatch, row: int) -> dict[str, Any]:
    """summary.json's fit entry of one row; None for a score that is not available (NaN). With refinement,
    also the regressor's own scores and the refinement's objective before and after."""
    scores: dict[str, Any] = {
        "silhouette_iou": _finite_or_none(batch.silhouette_iou[row]),
        "joints2d_error_px": _finite_or_none(batch.joints2d_error_px[row]),
    }
    if batch.regressor is not None:
        regressor = batch.regressor
        scores["regressor"] = {
            "silhouette_iou": _finite_or_none(regressor.silhouette_iou[row]),
            "joints2d_error_px": _finite_or_none(regressor.joints2d_error_px[row]),
        }
        scores["refinement"] = {
            "objective_start": _finite_or_none(regressor.objective_start[row]),
            "objective_end": _finite_or_none(regressor.objective_end[row]),
            "kept_regressor": bool(regressor.kept[row]),
            **({"note": regressor.notes[row]} if regressor.notes[row] else {}),
        }
    return scores


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays to an uncompressed .npz (readable with allow_pickle=False)."""
    # Built in memory, then written in one go: a zip archive open on a file that fails to write (disk full)
    # reports the failure again from its finaliser ("Exception ignored in ZipFile.__del__").
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return path


def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write a triangle mesh as Wavefront OBJ: vertices (V, 3) as `v x y z`, faces (F, 3) 0-based in, 1-based
    out."""
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    # One format operation per block instead of one per line: a 13k-vertex body takes milliseconds.
    text = ("v %.6f %.6f %.6f\n" * len(vertices)) % tuple(vertices.ravel()) + _obj_faces(faces.tobytes())
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="ascii")
    return path


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB picture as PNG."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise OSError(f"OpenCV could not encode a PNG of shape {rgb.shape} for {path}.")
    with atomic_path(path) as tmp:
        encoded.tofile(tmp)
    return path


def build_summary(run: dict[str, Any], results: Sequence[ImageResult]) -> dict[str, Any]:
    """summary.json content: the run's facts plus image counts and mean per-stage times of the images that
    succeeded, then one entry per image in input order."""
    ok = [result for result in results if result.status == "ok"]
    stages = list(dict.fromkeys(stage for result in ok for stage in result.timings_ms))
    per_stage = {
        stage: round(float(np.mean([r.timings_ms.get(stage, 0.0) for r in ok])), 3) for stage in stages
    }
    return {
        "run": {
            **run,
            "n_images": len(results),
            "n_ok": len(ok),
            "n_failed": len(results) - len(ok),
            "per_stage_mean_ms": per_stage,
        },
        "images": [result.to_json() for result in results],
    }


def write_json(path: Path, content: Any) -> Path:
    """Write JSON (indented, strict: NaN and infinities are refused, not written as invalid JSON)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


@functools.lru_cache(maxsize=4)
def _obj_faces(faces_int64: bytes) -> str:
    """OBJ face lines for (F, 3) int64 faces given as bytes; cached since a run writes one face list again
    and again (formatting it is most of an OBJ's cost)."""
    faces = np.frombuffer(faces_int64, dtype=np.int64) + 1
    return ("f %d %d %d\n" * (len(faces) // 3)) % tuple(faces)


def _finite_or_none(value: SupportsFloat) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None
