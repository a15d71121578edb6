"""Readers of the evaluation benchmarks: SSP-3D (and our synthetic benchmark, written in its layout) and 3DPW.

A reader checks the files it needs up front and returns an `EvalDataset`: the ground-truth SMPL-format
parameters of every sample, where its image lies, and where the benchmark's own proxy inputs (a silhouette
and 17 COCO joints per person) come from. Per-sample files are read on demand (`proxy_input`,
`gt_silhouette`), so a missing one costs that sample only.

SSP-3D (`read_ssp3d`), the folder of the SSP-3D zip:
    labels.npz     fnames (N,), shapes (N, 10), poses (N, 72) axis-angle, genders (N,) 'm'/'f',
                   joints2D (N, 17, 3) COCO-17 [u, v, confidence] in image pixels, cam_trans (N, 3),
                   bbox_centres, bbox_whs (carried, not used: the crop comes from the silhouette);
    images/        <fname>, 512 x 512;
    silhouettes/   <fname> as PNG masks (any nonzero pixel is person).
  The body at `SMPL(pose, betas) + cam_trans` projects with f = 5000 px and the principal point at the
  image centre (ORIGINAL.md §10). The ground truth uses the gendered SMPL models. Two optional keys, written
  by our synthetic benchmark, generalise this: `body_model` ("smpl" when absent, or "open") and
  `focal_length` (5000 when absent); genders may also be 'n' (the model's neutral file).

3DPW (`read_3dpw`), the widely used SPIN-style preprocessed test file and the 3DPW images:
    3dpw_test.npz  imgname (N,) paths relative to the folder, e.g. imageFiles/<sequence>/image_00000.jpg;
                   center (N, 2) [u, v] and scale (N,) of the person's box (side = 200 * scale pixels);
                   pose (N, 72); shape (N, 10); gender (N,) 'm'/'f';
    imageFiles/    the 3DPW frames;
    masks/<key>.png and keypoints/<key>.npy   precomputed inputs (only needed without a detector): a mask
                   and (17, 3) COCO-17 [u, v, confidence] keypoints in the pixels of the whole frame, with
                   <key> = imgname without its extension and with '/' replaced by '__'
                   (imageFiles__downtown_arguing_00__image_00000); a frame listed for several people gets
                   '__person<k>' appended, k = 0, 1, ... in file order.
    pointrend_R50FPN_masks/<imgname> and keypoint_rcnn_results/keypoints/<imgname stem>.npy   the
                   original STRAPS's layout of the same inputs, read when masks/ does not exist.
  There is no camera: 3D metrics are computed in the body frame with the usual alignments.

Label files are never unpickled: `read_label_arrays` reads the .npy members of the zip itself; arrays of
Python objects (string fields saved as object arrays) go through an unpickler that builds numpy arrays and
nothing else, and must hold strings or numbers only. A malformed file (not a zip, truncated, a field of the
wrong type or shape) and a dataset without samples raise DatasetError with one sentence.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from utils.annotation_io import read_keypoints_npy, read_mask_file
from utils.errors import AssetError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Gender codes of the label files -> body-model file genders.
GENDER_NAMES = {"m": "male", "f": "female", "n": "neutral"}
_GENDER_ALIASES = {"m": "m", "male": "m", "f": "f", "female": "f", "n": "n", "neutral": "n"}
SSP3D_FOCAL_LENGTH = 5000.0
SSP3D_LABEL_KEYS = (
    "fnames",
    "shapes",
    "poses",
    "genders",
    "joints2D",
    "cam_trans",
    "bbox_centres",
    "bbox_whs",
)
PW3D_LABELS_FILE = "3dpw_test.npz"
PW3D_LABEL_KEYS = ("imgname", "center", "scale", "pose", "shape", "gender")
PW3D_BOX_UNIT = 200.0  # SPIN's scale = box side / 200 px
PW3D_INPUT_LAYOUTS = {
    "ours": "masks/<key>.png and keypoints/<key>.npy",
    "original": "pointrend_R50FPN_masks/<imgname> and keypoint_rcnn_results/keypoints/<imgname stem>.npy",
}
BODY_MODEL_KINDS = ("smpl", "open")


class DatasetError(AssetError, RuntimeError):
    """A benchmark's files are missing or malformed; the message says what is expected where."""


@dataclass(frozen=True)
class ProxyInput:
    """One person as the network's input is built from: a silhouette and 17 joints, in the pixels of the
    frame they were found in (the frame's size is the silhouette's).

    Attributes:
        silhouette: (H, W) bool.
        keypoints: (17, 3) float32 [u, v, confidence] in COCO order.
    """

    silhouette: np.ndarray
    keypoints: np.ndarray


@dataclass(frozen=True)
class EvalDataset:
    """A benchmark's ground truth and the places of its inputs, N samples.

    Attributes:
        name: "ssp3d", "synthetic" or "3dpw".
        root: the dataset folder.
        sample_ids: (N,) unique names of the samples (SSP-3D: fnames; 3DPW: the file keys above).
        image_paths: (N,) image files.
        poses: (N, 72) float32 axis-angle, global orientation first.
        betas: (N, 10) float32.
        genders: (N,) codes 'm', 'f' or 'n' (see GENDER_NAMES).
        body_model: kind of the ground-truth body model, "smpl" or "open".
        input_masks: (N,) precomputed silhouette files.
        input_keypoints: (N, 17, 3) float32 keypoints, or (N,) .npy files holding them.
        gt_silhouettes: (N,) ground-truth silhouette files, or None (no silhouette metric).
        cam_trans: (N, 3) float32 camera translation of the ground-truth body, or None.
        focal_length: the ground-truth camera's focal length in pixels (principal point at the image
            centre), or None.
        person_boxes: (N, 4) float32 [x0, y0, x1, y1] square box of the labelled person in image pixels, where
            a frame may show several people (a detector runs on this crop), or None.
    """

    name: str
    root: Path
    sample_ids: tuple[str, ...]
    image_paths: tuple[Path, ...]
    poses: np.ndarray
    betas: np.ndarray
    genders: np.ndarray
    body_model: str
    input_masks: tuple[Path, ...]
    input_keypoints: np.ndarray | tuple[Path, ...]
    gt_silhouettes: tuple[Path, ...] | None = None
    cam_trans: np.ndarray | None = None
    focal_length: float | None = None
    person_boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)

    def proxy_input(self, index: int) -> ProxyInput:
        """The benchmark's own silhouette and joints of sample `index`.

        Raises:
            AnnotationFileError: its mask or keypoints file is missing or unreadable.
        """
        silhouette = read_mask_file(self.input_masks[index])
        if isinstance(self.input_keypoints, np.ndarray):
            keypoints = self.input_keypoints[index]
        else:
            keypoints = read_keypoints_npy(self.input_keypoints[index])[0]
        return ProxyInput(silhouette, np.asarray(keypoints, dtype=np.float32))

    def gt_silhouette(self, index: int) -> np.ndarray:
        """(H, W) bool ground-truth silhouette of sample `index` (datasets with `gt_silhouettes` only)."""
        if self.gt_silhouettes is None:
            raise ValueError(f"The {self.name} dataset has no ground-truth silhouettes.")
        return read_mask_file(self.gt_silhouettes[index])


def read_dataset(name: str, root: str | Path) -> EvalDataset:
    """Read benchmark `name` ("ssp3d", "synthetic" or "3dpw") from its folder."""
    if name in ("ssp3d", "synthetic"):
        return read_ssp3d(root, name=name)
    if name == "3dpw":
        return read_3dpw(root)
    raise ValueError(f"Unknown dataset {name!r}; use ssp3d, synthetic or 3dpw.")


def read_ssp3d(root: str | Path, name: str = "ssp3d") -> EvalDataset:
    """Read a folder in the SSP-3D layout (see the module docstring).

    Args:
        root: the folder holding labels.npz, images/ and silhouettes/.
        name: "ssp3d", or "synthetic" for our benchmark in the same layout.
    Raises:
        DatasetError: labels.npz or a folder is missing, or a label array has the wrong shape.
    """
    root = Path(root)
    title = "SSP-3D" if name == "ssp3d" else "Synthetic benchmark"
    expected = "pass --data_dir pointing at the folder holding labels.npz, images/ and silhouettes/" + (
        " (download SSP-3D from github.com/akashsengupta1997/SSP-3D)" if name == "ssp3d" else ""
    )
    labels_path = root / "labels.npz"
    if not labels_path.is_file():
        raise DatasetError(f"{title} labels not found at {labels_path}: {expected}.")
    labels = _read_npz(labels_path, SSP3D_LABEL_KEYS, expected)
    for folder in ("images", "silhouettes"):
        if not (root / folder).is_dir():
            raise DatasetError(f"{title} folder {root / folder} not found: {expected}.")

    fnames = _strings(labels["fnames"])
    n = len(fnames)
    if n == 0:
        raise DatasetError(f"{labels_path} lists no samples (fnames is empty): {expected}.")
    poses = _float_array(labels["poses"], (n, 72), "poses", labels_path)
    betas = _float_array(labels["shapes"], (n, 10), "shapes", labels_path)
    joints2d = _float_array(labels["joints2D"], (n, 17, 3), "joints2D", labels_path)
    cam_trans = _float_array(labels["cam_trans"], (n, 3), "cam_trans", labels_path)
    genders = _gender_codes(labels["genders"], n, labels_path)
    body_models = _strings(labels["body_model"]) if "body_model" in labels else ("smpl",)
    if body_models not in [(kind,) for kind in BODY_MODEL_KINDS]:
        raise DatasetError(f"{labels_path}: body_model is {body_models}; expected one of smpl or open.")
    body_model = body_models[0]
    focal_length = SSP3D_FOCAL_LENGTH
    if "focal_length" in labels:
        focal_length = float(_float_array(labels["focal_length"], (), "focal_length", labels_path))
        if focal_length <= 0:
            raise DatasetError(f"{labels_path}: focal_length is {focal_length}; expected a positive number.")
    silhouettes = tuple(root / "silhouettes" / f for f in fnames)
    return EvalDataset(
        name=name,
        root=root,
        sample_ids=fnames,
        image_paths=tuple(root / "images" / f for f in fnames),
        poses=poses,
        betas=betas,
        genders=genders,
        body_model=body_model,
        input_masks=silhouettes,
        input_keypoints=joints2d,
        gt_silhouettes=silhouettes,
        cam_trans=cam_trans,
        focal_length=focal_length,
    )


def read_3dpw(root: str | Path, labels_file: str = PW3D_LABELS_FILE) -> EvalDataset:
    """Read the SPIN-style 3DPW test file and locate images and precomputed inputs (module docstring).

    Raises:
        DatasetError: the labels file is missing or malformed.
    """
    root = Path(root)
    expected = (
        f"pass --data_dir pointing at the folder holding {labels_file} (SPIN's preprocessed 3DPW test "
        "set) and the 3DPW imageFiles/ folder, plus masks/ and keypoints/ unless a detector is chosen"
    )
    labels_path = root / labels_file
    if not labels_path.is_file():
        raise DatasetError(f"3DPW labels not found at {labels_path}: {expected}.")
    labels = _read_npz(labels_path, PW3D_LABEL_KEYS, expected)
    imgnames = _strings(labels["imgname"])
    n = len(imgnames)
    if n == 0:
        raise DatasetError(f"{labels_path} lists no samples (imgname is empty): {expected}.")
    centres = _float_array(labels["center"], (n, 2), "center", labels_path)
    half = _float_array(labels["scale"], (n,), "scale", labels_path) * (PW3D_BOX_UNIT / 2)
    keys = pw3d_keys(imgnames)
    if not (root / "masks").is_dir() and (root / "pointrend_R50FPN_masks").is_dir():
        input_masks = tuple(root / "pointrend_R50FPN_masks" / name for name in imgnames)
        keypoints_dir = root / "keypoint_rcnn_results" / "keypoints"
        input_keypoints = tuple(_original_keypoints_file(keypoints_dir, name) for name in imgnames)
    else:
        input_masks = tuple(root / "masks" / f"{key}.png" for key in keys)
        input_keypoints = tuple(root / "keypoints" / f"{key}.npy" for key in keys)
    return EvalDataset(
        name="3dpw",
        root=root,
        sample_ids=keys,
        image_paths=tuple(root / f for f in imgnames),
        poses=_float_array(labels["pose"], (n, 72), "pose", labels_path),
        betas=_float_array(labels["shape"], (n, 10), "shape", labels_path),
        genders=_gender_codes(labels["gender"], n, labels_path),
        body_model="smpl",
        input_masks=input_masks,
        input_keypoints=input_keypoints,
        person_boxes=np.concatenate((centres - half[:, None], centres + half[:, None]), axis=1),
    )


def _original_keypoints_file(keypoints_dir: Path, imgname: str) -> Path:
    """<imgname without extension>.npy where the sub-folders were kept, else <imgname stem>.npy."""
    nested = keypoints_dir / Path(imgname).with_suffix(".npy")
    return nested if nested.is_file() else keypoints_dir / f"{Path(imgname).stem}.npy"


def require_precomputed_inputs(dataset: EvalDataset, count: int) -> None:
    """Raise DatasetError when not one of the first `count` samples has its precomputed mask and keypoints
    (a wrong folder would otherwise give an empty report)."""
    for index in range(min(count, len(dataset))):
        keypoints = dataset.input_keypoints
        if dataset.input_masks[index].is_file() and (
            isinstance(keypoints, np.ndarray) or keypoints[index].is_file()
        ):
            return
    layouts = " or ".join(PW3D_INPUT_LAYOUTS.values()) if dataset.name == "3dpw" else "silhouettes/<fname>"
    raise DatasetError(
        f"None of the {min(count, len(dataset))} {dataset.name} samples has precomputed inputs under "
        f"{dataset.root} (expected {layouts}); add them, or choose a detector with --silh_from and "
        "--joints_from."
    )


def pw3d_keys(imgnames: tuple[str, ...]) -> tuple[str, ...]:
    """File keys of the precomputed 3DPW inputs: imgname without extension, '/' -> '__', and
    '__person<k>' for the k-th listing of a frame that is listed more than once."""
    flat = [str(Path(name).with_suffix("")).replace("\\", "/").replace("/", "__") for name in imgnames]
    listed = Counter(flat)
    seen: Counter[str] = Counter()
    keys = []
    for key in flat:
        if listed[key] > 1:
            keys.append(f"{key}__person{seen[key]}")
            seen[key] += 1
        else:
            keys.append(key)
    return tuple(keys)


def _read_npz(path: Path, keys: tuple[str, ...], expected: str) -> dict[str, np.ndarray]:
    """All arrays of an npz that must hold `keys` (read without pickle, see `read_label_arrays`)."""
    arrays = read_label_arrays(path, expected)
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DatasetError(f"{path} lacks the keys {', '.join(missing)}: {expected}.")
    return arrays


def read_generated_labels(root: Path, settings: DataclassInstance, what: str) -> dict[str, np.ndarray]:
    """The label arrays of a generated benchmark (`root`/labels.npz), checked to be made with `settings`
    (stored as sorted JSON under "config" by `settings_json`).

    Raises:
        DatasetError: unreadable, or made with other settings.
    """
    content = read_label_arrays(
        root / "labels.npz", "delete the folder to regenerate it, or pass another --data_dir"
    )
    stored = str(content["config"]) if "config" in content else None
    if stored != settings_json(settings):
        raise DatasetError(
            f"{root} holds a {what} made with other settings ({stored}); delete the folder to regenerate it, "
            "or pass another --data_dir."
        )
    return content


def settings_json(settings: DataclassInstance) -> str:
    """A generator's settings as the JSON its labels store: a folder's identity."""
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def read_label_arrays(path: Path, expected: str) -> dict[str, np.ndarray]:
    """Every array of an .npz label file, read without executing anything.

    Raises:
        DatasetError: the file is no readable .npz, or holds objects other than strings and numbers.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member[: -len(".npy")]] = _read_npy(archive.read(member), path, member)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path} is not a readable .npz file ({detail}): {expected}.") from None
    return arrays


def _read_npy(data: bytes, path: Path, member: str) -> np.ndarray:
    """One .npy member: plain dtypes by numpy without pickle, object arrays by `_ArrayUnpickler`."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)  # type: ignore[no-untyped-call]  # numpy stub is untyped
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, _, dtype = header(stream)  # type: ignore[no-untyped-call]  # numpy stub is untyped
    if not dtype.hasobject:
        return np.lib.format.read_array(  # type: ignore[no-untyped-call]  # numpy stub is untyped
            io.BytesIO(data), allow_pickle=False
        )
    array = _ArrayUnpickler(stream).load()
    if not isinstance(array, np.ndarray) or any(
        not isinstance(item, (str, bytes, int, float)) for item in array.reshape(-1)
    ):
        raise DatasetError(f"{path}: {member} holds Python objects other than strings and numbers.")
    return array


class _ArrayUnpickler(pickle.Unpickler):
    """Builds the object arrays np.save writes (an ndarray of str, bytes or numbers) and refuses every other
    global, so that a crafted file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it holds a pickled {module}.{name}, which is never loaded")
        return super().find_class(module, name)


def _strings(array: np.ndarray) -> tuple[str, ...]:
    """A label file's string array (unicode, bytes or Python objects) -> tuple of str."""
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(array).reshape(-1))


def _float_array(array: np.ndarray, shape: tuple[int, ...], key: str, path: Path) -> np.ndarray:
    if array.shape != shape:
        raise DatasetError(f"{path}: {key} has shape {array.shape}, expected {shape}.")
    try:
        out = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: {key} holds {array.dtype} values, expected numbers.") from None
    if not np.isfinite(out).all():
        raise DatasetError(f"{path}: {key} contains NaN or infinite values.")
    return out


def _gender_codes(array: np.ndarray, n: int, path: Path) -> np.ndarray:
    values = [g.strip().lower() for g in _strings(array)]
    unknown = sorted({g for g in values if g not in _GENDER_ALIASES})
    if len(values) != n or unknown:
        problem = f"unknown values {unknown}" if unknown else f"{len(values)} entries for {n} samples"
        raise DatasetError(f"{path}: genders has {problem}; expected one of 'm', 'f', 'n' per sample.")
    return np.array([_GENDER_ALIASES[g] for g in values])
