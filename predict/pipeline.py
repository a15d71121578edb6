"""A prediction run over image files: read, detect, predict in batches, write the outputs, summary.json
and report.html.

Each image either gets its outputs or one summary line with the reason it has none (unreadable, not an
image, no person found, the detector's own per-image error, ...); nothing else stops the run. Images are
processed `batch_size` at a time: reading and detection image by image, the regressor, body model and
renders for the whole batch at once.

Output folder: by default `<input parent>/<input name>_straps_output/` beside the input (beside the image
for a single image). For a folder or a glob pattern the output folder may not lie inside the input folder,
so that outputs never mix with inputs (nor get read back by a later recursive run); for a single image it
may not be the image's own folder.

Records (predict/run_records.py): each image's line is appended to `records.jsonl` as soon as it is done,
and summary.json describes the whole folder (earlier runs' images too); one run writes into a folder at a
time. With `skip_existing`, an image recorded as done with all its files present is not computed again. A
prediction with NaN or infinite values is a failure with its reason, and writes no files.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from predict.detectors.base import DetectorBackend, ImageDetectionError
from predict.exports import write_exports
from predict.group_overlay import render_group_overlay
from predict.outputs import (
    PICTURE_SUFFIXES,
    ImageResult,
    OutputOptions,
    build_summary,
    fit_scores,
    prediction_arrays,
    write_json,
    write_npz,
    write_obj,
    write_png,
)
from predict.people import DEFAULT_MAX_PEOPLE, find_people
from predict.predictor import PredictionBatch, PredictionInputError, Predictor
from predict.report_html import write_report_html
from predict.run_records import OutputFolder, merged_results, result_from_record
from predict.views import proxy_pictures, render_overlays, render_side_views, render_tpose_views
from utils.errors import UsageError
from utils.image_io import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE,
    GLOB_CHARACTERS,
    ImageReadError,
    LoadedImage,
    read_image_rgb,
)

OUTPUT_FOLDER_SUFFIX = "_straps_output"
SUMMARY_NAME = "summary.json"
RECORDS_NAME_HINT = "each image's record is in records.jsonl"


class OutputFolderError(UsageError, ValueError):
    """The output folder would lie inside the input folder, or is not a folder."""


@dataclass(frozen=True)
class RunOptions:
    """How to run: outputs to write, batch size, reading limit, progress bar."""

    outputs: OutputOptions = field(default_factory=OutputOptions)
    batch_size: int = 8
    max_side: int | None = DEFAULT_MAX_SIDE  # images are downscaled to this long side on reading
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger images are refused before decoding (JPEG: reduced)
    skip_existing: bool = False  # images recorded as done, with all their files present, are not redone
    progress: bool = True
    people: str = "main"  # "main": the most prominent person; "all": everybody, <stem>_p<k> outputs
    max_people: int = DEFAULT_MAX_PEOPLE


@dataclass
class _Found:
    """An image whose person was found, waiting for the batched stages."""

    index: int
    image: LoadedImage
    mask: np.ndarray
    keypoints: np.ndarray
    person: int | None = None  # k of <stem>_p<k> with --people all


def input_root(input_path: str | Path) -> Path:
    """The folder an input names: the folder itself, an image's folder, or a glob pattern's fixed part."""
    path = Path(input_path)
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    fixed = []
    for part in path.parts:
        if GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def default_output_dir(input_path: str | Path) -> Path:
    """`<parent>/<name>_straps_output` beside the input folder, image or pattern's folder."""
    path = Path(input_path)
    named = path if path.is_file() else input_root(path).resolve()
    stem = named.stem if path.is_file() else named.name
    return named.parent / f"{stem or 'input'}{OUTPUT_FOLDER_SUFFIX}"


def check_output_dir(output_dir: Path, input_path: str | Path) -> None:
    """Refuse an output folder inside the input folder (for folder and pattern inputs) or equal to an image's
    folder, and a path that is a file.

    Raises:
        OutputFolderError: with one sentence saying what to pass instead.
    """
    output = output_dir.resolve()
    if output.exists() and not output.is_dir():
        raise OutputFolderError(f"Output path {output_dir} is a file; pass a folder with --output.")
    path = Path(input_path)
    root = input_root(path).resolve()
    inside = output == root if path.is_file() else output.is_relative_to(root)
    if inside:
        raise OutputFolderError(
            f"Output folder {output_dir} lies inside the input folder {root}; outputs are never written "
            f"among the inputs, so pass an --output folder elsewhere (the default is "
            f"{default_output_dir(path)})."
        )


def output_stems(paths: Sequence[Path], root: Path | None = None) -> list[str]:
    """Output name (without suffix) per image: its path relative to `root` (just its name when root is None
    or does not contain it) without the extension, with the extension kept (`photo_png`) where two images
    would otherwise share a name."""
    stems = []
    for path in map(Path, paths):
        named = path.relative_to(root) if root is not None and path.is_relative_to(root) else Path(path.name)
        stems.append(named.with_suffix(""))
    counts = Counter(stems)
    return [
        str(stem.with_name(f"{stem.name}_{path.suffix.lstrip('.').lower()}") if counts[stem] > 1 else stem)
        for stem, path in zip(stems, map(Path, paths), strict=True)
    ]


def predict_files(
    paths: Sequence[Path],
    predictor: Predictor,
    detector: DetectorBackend,
    output_dir: Path | OutputFolder,
    input_folder: Path | None = None,
    options: RunOptions | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Predict every image and write its outputs, its record and `summary.json` into `output_dir`.

    Args:
        paths: image files, in the order the summary lists them.
        predictor, detector: built by the caller (and closed by it).
        output_dir: a folder (created, locked for the run) or an OutputFolder the caller opened.
        input_folder: outputs mirror the images' sub-folders relative to it (default: flat names).
        options: RunOptions.
        run_info: facts recorded under "run" in the summary (checkpoint, device, detector, ...).
    Returns:
        The summary, as written to summary.json: "run" (with the counts of the whole folder), "this_run"
        (this run's counts, time and any write errors) and "images".
    """
    options = options or RunOptions()
    if options.batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {options.batch_size}.")
    if isinstance(output_dir, OutputFolder):
        return _predict_into(paths, predictor, detector, output_dir, input_folder, options, run_info)
    with OutputFolder(output_dir) as folder:
        return _predict_into(paths, predictor, detector, folder, input_folder, options, run_info)


def _predict_into(
    paths: Sequence[Path],
    predictor: Predictor,
    detector: DetectorBackend,
    folder: OutputFolder,
    input_folder: Path | None,
    options: RunOptions,
    run_info: dict[str, Any] | None,
) -> dict[str, Any]:
    stems = output_stems(paths, input_folder)
    skipped = [
        options.skip_existing and folder.is_complete(stem, path, options.outputs)
        for stem, path in zip(stems, paths, strict=True)
    ]
    results = [
        result_from_record(folder.previous[stem]) if skip else ImageResult(path=str(path))
        for stem, path, skip in zip(stems, paths, skipped, strict=True)
    ]

    def done(index: int) -> None:
        folder.append(stems[index], results[index])

    todo = [i for i in range(len(paths)) if not skipped[i]]
    start = time.perf_counter()
    with tqdm(total=len(paths), unit="image", disable=not options.progress, dynamic_ncols=True) as bar:
        bar.update(len(paths) - len(todo))
        for first in range(0, len(todo), options.batch_size):
            indices = todo[first : first + options.batch_size]
            found = [
                item
                for i in indices
                for item in _read_and_detect(paths[i], i, detector, results, options, done)
            ]
            if found:
                _predict_and_write(found, stems, predictor, folder.path, results, options.outputs, done)
            bar.update(len(indices))
    this_run = [results[i] for i in todo]
    n_ok = sum(result.status == "ok" for result in this_run)
    write_errors = [folder.write_error] if folder.write_error else []
    run_counts = {
        "n_images": len(paths),
        "n_ok": n_ok,
        "n_failed": len(todo) - n_ok,
        "n_skipped": len(paths) - len(todo),
        "total_time_s": round(time.perf_counter() - start, 3),
        "write_errors": write_errors,
    }
    folder_results = merged_results(folder.previous, zip(stems, results, strict=True))
    summary = build_summary(dict(run_info or {}), folder_results)
    summary = {"run": summary["run"], "this_run": run_counts, "images": summary["images"]}
    try:
        write_json(folder.path / SUMMARY_NAME, summary)
        write_report_html(folder.path, summary)
    except OSError as error:
        write_errors.append(
            f"{folder.path / SUMMARY_NAME} could not be written ({error.strerror or error}); "
            f"{RECORDS_NAME_HINT}"
        )
    return summary


def _read_and_detect(
    path: Path,
    index: int,
    detector: DetectorBackend,
    results: list[ImageResult],
    options: RunOptions,
    done: Callable[[int], None],
) -> list[_Found]:
    """Read one image and find its people (the most prominent one for people="main"); a failure is
    recorded in `results[index]` (and `done`)."""
    result = results[index]
    start = time.perf_counter()
    try:
        image = read_image_rgb(path, options.max_side, options.max_pixels)
    except ImageReadError as error:
        result.fail(str(error))
    except MemoryError:
        result.fail(f"{path} is too large to decode in the memory available.")
    finally:
        result.timings_ms["read"] = _ms_since(start)
    if result.status == "failed":
        done(index)
        return []
    start = time.perf_counter()
    try:
        # Windows find the small people of a crowd; the main person is never one of them, so a run for the
        # main person only does not pay for that search.
        found = find_people(detector, image.rgb, path, options.max_people, tiles=options.people == "all")
    except ImageDetectionError as error:
        result.fail(str(error))
    except Exception as error:  # a detector crash on one odd image must not end a long run
        result.fail(f"The {detector.name} detector failed on this image ({type(error).__name__}: {error}).")
    else:
        if found.failure is not None:
            result.fail(found.failure)
    finally:
        result.timings_ms["detect"] = _ms_since(start)
    if result.status == "failed":
        done(index)
        return []
    if found.attempt is not None:
        result.details["found_by"] = found.attempt
    if options.people == "main":
        return [_Found(index, image, found.people[0].mask, found.people[0].keypoints)]
    result.details["people"] = []
    return [_Found(index, image, p.mask, p.keypoints, person=k) for k, p in enumerate(found.people)]


def _predict_and_write(
    found: list[_Found],
    stems: list[str],
    predictor: Predictor,
    output_dir: Path,
    results: list[ImageResult],
    outputs: OutputOptions,
    done: Callable[[int], None],
) -> None:
    """The batched stages for the people found (one row each), then their files; each image's record is
    appended through `done` once all its people are written (or it failed)."""
    indices = list(dict.fromkeys(item.index for item in found))
    try:
        batch = predictor.predict_proxy(
            [item.mask for item in found],
            np.stack([item.keypoints for item in found]),
            [item.image.original_hw for item in found],
        )
        start = time.perf_counter()
        groups = _group_rows(found)  # --people all: one overlay per image with everybody
        row_outputs = dataclasses.replace(outputs, overlay=False) if groups else outputs
        pictures, overlay_scales = _render_pictures(batch, [item.image.rgb for item in found], row_outputs)
        group_overlays = {
            index: render_group_overlay(batch, rows, found[rows[0]].image.rgb, outputs.overlay_max_side)
            for index, rows in groups.items()
            if outputs.overlay
        }
        render_ms = _ms_since(start)
    except (PredictionInputError, RuntimeError) as error:
        for index in indices:
            results[index].fail(f"Prediction failed for this batch ({type(error).__name__}: {error}).")
            done(index)
        return
    shared = {stage: ms / len(found) for stage, ms in batch.timings_ms.items()}
    shared["render"] = render_ms / len(found)
    last_row = {item.index: row for row, item in enumerate(found)}
    for row, item in enumerate(found):
        result = results[item.index]
        if result.status == "ok":  # not after an earlier person of this image failed
            _write_row(batch, row, item, stems, predictor, output_dir, result, outputs, pictures, shared)
            if overlay_scales is not None:
                result.overlay_scale = round(overlay_scales[row], 6)
            if item.person == 0 and item.index in group_overlays and result.status == "ok":
                overlay, scale = group_overlays[item.index]
                path = write_png(output_dir / f"{stems[item.index]}{PICTURE_SUFFIXES['overlay']}", overlay)
                result.outputs.append(path.relative_to(output_dir).as_posix())
                result.overlay_scale = round(scale, 6)
        if last_row[item.index] == row:
            result.timings_ms["total"] = sum(
                ms for stage, ms in result.timings_ms.items() if stage != "total"
            )
            done(item.index)


def _write_row(
    batch: PredictionBatch,
    row: int,
    item: _Found,
    stems: list[str],
    predictor: Predictor,
    output_dir: Path,
    result: ImageResult,
    outputs: OutputOptions,
    pictures: dict[str, list[np.ndarray]],
    shared: dict[str, float],
) -> None:
    """One person's files and summary entries (a failure is recorded in `result`)."""
    for stage, ms in shared.items():  # an image's people share its stages
        result.timings_ms[stage] = result.timings_ms.get(stage, 0.0) + ms
    if not _finite_row(batch, row):
        result.fail(
            "The prediction has NaN or infinite values (a damaged checkpoint or an extreme input), so no "
            "outputs were written."
        )
        return
    stem = stems[item.index] + (f"_p{item.person}" if item.person is not None else "")
    start = time.perf_counter()
    try:
        row_pictures = {kind: images[row] for kind, images in pictures.items()}
        written = _write_outputs(batch, row, output_dir, stem, row_pictures, predictor, outputs)
    except OSError as error:
        result.fail(f"Its outputs could not be written ({error}).")
        return
    finally:
        result.timings_ms["write"] = result.timings_ms.get("write", 0.0) + _ms_since(start)
    result.outputs += written
    if item.person is None or item.person == 0:
        result.fit = fit_scores(batch, row)
    if item.person is not None:
        box = [round(float(v), 2) for v in batch.bbox[row].tolist()]
        person = {"person": item.person, "crop_box": box, "fit": fit_scores(batch, row), "outputs": written}
        result.details["people"].append(person)


def _group_rows(found: list[_Found]) -> dict[int, list[int]]:
    """Batch rows per image for the images of a --people all run (p0 first); {} otherwise."""
    groups: dict[int, list[int]] = {}
    for row, item in enumerate(found):
        if item.person is not None:
            groups.setdefault(item.index, []).append(row)
    return groups


def _finite_row(batch: PredictionBatch, row: int) -> bool:
    """Whether every predicted quantity of one image is finite."""
    tensors = (batch.cam_wp, batch.pose_rotmats, batch.betas, batch.vertices, batch.cam_t, batch.joints2d)
    return all(bool(torch.isfinite(tensor[row]).all()) for tensor in (*tensors, batch.tpose_vertices))


def _render_pictures(
    batch: PredictionBatch, backgrounds: list[np.ndarray], outputs: OutputOptions
) -> tuple[dict[str, list[np.ndarray]], list[float] | None]:
    """The enabled pictures per kind, one per batch row, and the overlay scales (None without overlays)."""
    pictures: dict[str, list[np.ndarray]] = {}
    overlay_scales = None
    if outputs.overlay:
        overlays = render_overlays(batch, backgrounds, outputs.overlay_max_side)
        pictures["overlay"] = [picture for picture, _ in overlays]
        overlay_scales = [scale for _, scale in overlays]
    if outputs.side:
        pictures["side"] = list(render_side_views(batch, outputs.view_size))
    if outputs.tpose:
        pictures["tpose"] = list(render_tpose_views(batch, outputs.view_size))
    if outputs.proxy:
        pictures["proxy"] = list(proxy_pictures(batch))
    return pictures, overlay_scales


def _write_outputs(
    batch: PredictionBatch,
    row: int,
    output_dir: Path,
    stem: str,
    pictures: dict[str, np.ndarray],
    predictor: Predictor,
    outputs: OutputOptions,
) -> list[str]:
    """Write one image's files; returns their paths relative to the output folder."""
    base = output_dir / stem
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    if outputs.npz or outputs.obj:
        arrays = prediction_arrays(batch, row, predictor.bundle.kind, predictor.bundle.gender)
        if outputs.npz:
            written.append(write_npz(base.with_name(base.name + ".npz"), arrays))
        if outputs.obj:
            written.append(write_obj(base.with_name(base.name + ".obj"), arrays["vertices"], arrays["faces"]))
    written += write_exports(base, outputs.exports, predictor.bundle, batch, row)
    for kind, suffix in PICTURE_SUFFIXES.items():
        if kind in pictures:
            written.append(write_png(base.with_name(base.name + suffix), pictures[kind]))
    return [path.relative_to(output_dir).as_posix() for path in written]


def _ms_since(start: float) -> float:
    return 1000.0 * (time.perf_counter() - start)
