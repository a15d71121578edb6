"""The scene benchmark's folder: generated once from its seeded layouts, then read.

    images/scene_<i>.jpg             the picture (JPEG quality 92, as the demo renders)
    seen/scene_<i>.png               uint8 label map: k + 1 where person k is seen (coat included), else 0
    silhouettes/scene_<i>_p<k>.png   person k's body silhouette in the picture, whole (0/255)
    labels.npz                       per picture: fnames, cases, focal_length, pitch_deg, main (the main
                                     person's k), first (its first row in the per-person arrays), count;
                                     per person (rows): poses (P, 72) axis-angle and cam_trans (P, 3) in
                                     the picture's camera frame, betas (P, 10), joints2D (P, 17, 3)
                                     [u, v, inside], visible_fraction (P,), loose (P,) bool; image_hw,
                                     body_model, config (the settings as JSON)

Principal point: the picture centre; camera rotation: the identity (the pitch is in the poses). Files are
the same for the same settings: every draw is seeded, and the renders run on one CPU thread so that sums
keep one order. labels.npz is written last, so a folder without it is an unfinished generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from evaluation.datasets import DatasetError, read_generated_labels, settings_json
from evaluation.photo_render import JPEG_QUALITY, TEXTURE_NAMES, TEXTURES_DIR, load_texture
from evaluation.scene_cases import LayoutSampler, SceneBenchmarkConfig
from evaluation.scene_render import BodyPoser, render_picture
from models.bundle import load_bundle
from utils.runtime import REPO_ROOT

DEFAULT_DIR = REPO_ROOT / "data" / "datasets" / "scene_benchmark"
# SMPL joints below the knees and below the waist: the parts a knee-up or waist-up framing leaves out.
_BELOW_KNEES = (4, 5, 7, 8, 10, 11)
_BELOW_WAIST = (1, 2, *_BELOW_KNEES)


@dataclass
class SceneBenchmark:
    """A generated benchmark, read from its folder. N pictures, P people in all (see the module docstring
    for the arrays)."""

    root: Path
    config: SceneBenchmarkConfig
    fnames: list[str]
    cases: np.ndarray
    focal_length: np.ndarray
    main: np.ndarray
    first: np.ndarray
    count: np.ndarray
    poses: np.ndarray
    betas: np.ndarray
    cam_trans: np.ndarray
    joints2d: np.ndarray
    visible_fraction: np.ndarray
    body_model: str

    def __len__(self) -> int:
        return len(self.fnames)

    def image_path(self, index: int) -> Path:
        return self.root / "images" / self.fnames[index]

    def rows(self, index: int) -> range:
        """The per-person rows of picture `index`, person k at rows[k]."""
        return range(int(self.first[index]), int(self.first[index] + self.count[index]))

    def seen(self, index: int) -> np.ndarray:
        """(H, W) uint8 label map of picture `index`."""
        return _read_png(self.root / "seen" / _png(self.fnames[index]))

    def silhouette(self, index: int, person: int) -> np.ndarray:
        """(H, W) bool body silhouette of person k of picture `index`."""
        return _read_png(self.root / "silhouettes" / _png(self.fnames[index], person)) > 0


def generate_scene_benchmark(
    out_dir: str | Path,
    config: SceneBenchmarkConfig | None = None,
    additional_dir: str | Path = "additional",
    progress: bool = True,
) -> Path:
    """Render the benchmark into `out_dir` (created; files of the same names are replaced) -> out_dir."""
    config = config or SceneBenchmarkConfig()
    out_dir = Path(out_dir)
    for folder in ("images", "seen", "silhouettes"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(config.body_model, "neutral", additional_dir)
    poser = BodyPoser(bundle)
    dominant = bundle.skinning_weights.argmax(dim=1).numpy()
    parts = {"knee_up": ~np.isin(dominant, _BELOW_KNEES), "waist_up": ~np.isin(dominant, _BELOW_WAIST)}
    sampler = LayoutSampler(config, poser, parts)
    textures = {name: load_texture(TEXTURES_DIR, name) for name in TEXTURE_NAMES}
    fnames, cases, focals, pitches, mains, counts = [], [], [], [], [], []
    people: dict[str, list[np.ndarray]] = {key: [] for key in _PERSON_KEYS}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order: the same files on every run
    try:
        for index in tqdm(range(config.num_pictures), desc="rendering scenes", disable=not progress):
            layout = sampler.picture(index)
            rendered = render_picture(layout, poser, textures, np.random.default_rng(config.seed + index))
            fname = f"scene_{index:05d}.jpg"
            image = np.ascontiguousarray(rendered.picture[..., ::-1])
            _write(out_dir / "images" / fname, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            _write(out_dir / "seen" / _png(fname), rendered.seen)
            for k, mask in enumerate(rendered.silhouettes):
                _write(out_dir / "silhouettes" / _png(fname, k), mask.astype(np.uint8) * 255)
            fnames.append(fname)
            cases.append(layout.case)
            focals.append(layout.focal_length)
            pitches.append(layout.pitch_deg)
            mains.append(rendered.main)
            counts.append(len(layout.people))
            people["poses"].extend(p.pose for p in layout.people)
            people["betas"].extend(p.betas for p in layout.people)
            people["cam_trans"].extend(p.cam_t for p in layout.people)
            people["joints2D"].extend(rendered.joints2d)
            people["visible_fraction"].extend(rendered.visible_fraction)
            people["loose"].extend(np.array(p.dress.coat_offset > 0) for p in layout.people)
    finally:
        torch.set_num_threads(threads)
    counts_array = np.asarray(counts, np.int64)
    partial = out_dir / "labels.partial.npz"  # renamed when complete: labels.npz marks a finished folder
    np.savez(
        partial,
        fnames=np.array(fnames),
        cases=np.array(cases),
        focal_length=np.array(focals, np.float32),
        pitch_deg=np.array(pitches, np.float32),
        main=np.array(mains, np.int64),
        first=np.concatenate(([0], np.cumsum(counts_array)[:-1])).astype(np.int64),
        count=counts_array,
        **{key: np.stack(values) for key, values in people.items()},
        image_hw=np.array(config.image_hw, np.int64),
        body_model=np.array(config.body_model),
        config=np.array(settings_json(config)),
    )
    os.replace(partial, out_dir / "labels.npz")
    return out_dir


_PERSON_KEYS = ("poses", "betas", "cam_trans", "joints2D", "visible_fraction", "loose")


def ensure_scene_benchmark(
    out_dir: str | Path = DEFAULT_DIR,
    config: SceneBenchmarkConfig | None = None,
    additional_dir: str | Path = "additional",
    progress: bool = True,
) -> SceneBenchmark:
    """The benchmark in `out_dir`, generated first if the folder holds no labels.npz.

    Raises:
        DatasetError: the folder holds a benchmark made with other settings.
    """
    config = config or SceneBenchmarkConfig()
    out_dir = Path(out_dir)
    if not (out_dir / "labels.npz").is_file():
        generate_scene_benchmark(out_dir, config, additional_dir, progress)
    return read_scene_benchmark(out_dir, config)


def read_scene_benchmark(root: Path, config: SceneBenchmarkConfig) -> SceneBenchmark:
    """Read a generated benchmark made with `config`.

    Raises:
        DatasetError: the folder holds a benchmark made with other settings.
    """
    content = read_generated_labels(root, config, "scene benchmark")
    return SceneBenchmark(
        root=root,
        config=config,
        fnames=[str(name) for name in content["fnames"]],
        cases=content["cases"].astype(str),
        focal_length=content["focal_length"],
        main=content["main"],
        first=content["first"],
        count=content["count"],
        poses=content["poses"].astype(np.float32),
        betas=content["betas"].astype(np.float32),
        cam_trans=content["cam_trans"].astype(np.float32),
        joints2d=content["joints2D"].astype(np.float32),
        visible_fraction=content["visible_fraction"].astype(np.float32),
        body_model=str(content["body_model"]),
    )


def _png(fname: str, person: int | None = None) -> str:
    stem = Path(fname).stem
    return f"{stem}.png" if person is None else f"{stem}_p{person}.png"


def _write(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    if not cv2.imwrite(str(path), image, params or []):
        raise OSError(f"Could not write {path}; check that the folder is writable.")


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"{path} is missing or unreadable; delete the benchmark folder to regenerate it.")
    return image
