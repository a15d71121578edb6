"""Label-map throughput of our rasterizer beside OpenCV's per-triangle silhouette, on the CPU and on CUDA,
and the differentiable soft silhouette's forward + backward time (full and decimated mesh).

    python -m benchmarks.rasterizer [--batch_sizes 1 4 16 64 256] [--size 256] [--soft_size 64]
                                  [--soft_batch 8] [--json PATH]

The mesh is the open body model (additional/open_body/OPEN_BODY_NEUTRAL.npz, 27,420 faces) when present, else
the procedural six-capsule body (27,352 faces). Each sample is placed as in training data generation: turned
upright in the camera frame, about 200 px tall at focal 5000 and 42 m (jittered), in a 256 x 256 image.
The baseline is a Python loop of cv2.fillConvexPoly over the same projected triangles, one image at a time.
The soft silhouette is timed as the fit refinement and the training's silhouette loss use it: forward and
backward of a batch at a small raster, for the full mesh and for the decimated mesh of fit refinement
(renderers/decimate.py, 2,000 faces). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchmarks.common import best_seconds, machine, write_report
from benchmarks.procedural_body import LabelledMesh, place_in_camera, procedural_body
from renderers.decimate import decimate_to_faces
from renderers.maps import label_map
from renderers.soft import soft_silhouette

OPEN_BODY = Path("additional/open_body/OPEN_BODY_NEUTRAL.npz")
FOCAL = 5000.0
DECIMATED_FACES = 2000  # as predict/refine.py's default


def load_mesh(path: Path = OPEN_BODY) -> tuple[LabelledMesh, str]:
    """The open body if its file exists (six equal bands of faces stand in for its part labels), else the
    procedural body."""
    if path.is_file():
        with np.load(path) as data:
            vertices = torch.as_tensor(data["v_template"], dtype=torch.float32)
            faces = torch.as_tensor(data["f"].astype(np.int64))
        labels = torch.arange(faces.shape[0]) * 6 // faces.shape[0] + 1
        return LabelledMesh(vertices, faces, labels), f"open body ({path})"
    return procedural_body(), "procedural six-capsule body (open body file not found)"


def sample_vertices(mesh: LabelledMesh, batch_size: int, seed: int = 0) -> Tensor:
    """(B, V, 3) camera-frame bodies with training-like translation jitter (ORIGINAL.md §5.2: tz 42 +- 5)."""
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randn(batch_size, 1, 3, generator=generator) * torch.tensor([0.05, 0.05, 0.0])
    shift[..., 2] = torch.rand(batch_size, 1, generator=generator) * 10 - 5
    return place_in_camera(mesh.vertices) + shift


def opencv_silhouette(vertices: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """One silhouette, (size, size) uint8: project, then one cv2.fillConvexPoly per triangle (4 fractional
    bits)."""
    import cv2  # only for the baseline: the benchmark runs without OpenCV (e.g. on a bare GPU machine)

    uv = vertices[:, :2] / vertices[:, 2:] * FOCAL + size / 2
    # fillConvexPoly's fixed point puts pixel centres at integers; ours are at +0.5, hence the shift.
    triangles = np.round((uv[faces] - 0.5) * 16).astype(np.int32)
    image = np.zeros((size, size), np.uint8)
    for triangle in triangles:
        cv2.fillConvexPoly(image, triangle, 1, lineType=cv2.LINE_8, shift=4)
    return image


def benchmark(batch_sizes: list[int], size: int, devices: list[str]) -> dict:
    mesh, mesh_name = load_mesh()
    vertices = sample_vertices(mesh, max(batch_sizes))
    faces_np = mesh.faces.numpy()
    first = vertices[0].numpy()
    opencv_seconds, agreement = math.nan, math.nan
    if importlib.util.find_spec("cv2") is not None:
        opencv_seconds = best_seconds(lambda: opencv_silhouette(first, faces_np, size), min_seconds=1.0)
        ours = label_map(vertices[:1], mesh.faces, mesh.face_labels, FOCAL, None, (size, size))[0] > 0
        theirs = torch.from_numpy(opencv_silhouette(first, faces_np, size) > 0)
        agreement = ((ours & theirs).sum() / (ours | theirs).sum()).item()

    rows = []
    for device in devices:
        faces, labels = mesh.faces.to(device), mesh.face_labels.to(device)
        for batch_size in batch_sizes:
            batch = vertices[:batch_size].to(device)
            seconds = best_seconds(
                lambda batch=batch, faces=faces, labels=labels: label_map(
                    batch, faces, labels, FOCAL, None, (size, size)
                ),
                device,
                min_seconds=1.0,
            )
            rows.append(
                {
                    "device": device,
                    "batch_size": batch_size,
                    "ms_per_batch": seconds * 1e3,
                    "ms_per_image": seconds * 1e3 / batch_size,
                    "images_per_second": batch_size / seconds,
                    "time_vs_opencv": seconds / batch_size / opencv_seconds,
                }
            )
    return {
        "mesh": mesh_name,
        "vertices": int(mesh.vertices.shape[0]),
        "faces": int(mesh.faces.shape[0]),
        "image_size": size,
        "opencv_ms_per_image": opencv_seconds * 1e3,
        "silhouette_iou_vs_opencv": agreement,
        "machine": {**machine(devices), "opencv": _opencv_version()},
        "results": rows,
    }


def soft_silhouette_rows(mesh: LabelledMesh, batch_size: int, size: int, devices: list[str]) -> list[dict]:
    """ms per image of soft_silhouette forward + backward, full and decimated mesh, at `size` px."""
    scale = size / 256
    vertices = sample_vertices(mesh, batch_size, seed=1)
    groups = torch.zeros(mesh.vertices.shape[0], dtype=torch.int64).numpy()  # one group: a static mesh
    decimated = decimate_to_faces(mesh.vertices.numpy(), mesh.faces.numpy(), groups, DECIMATED_FACES)
    meshes = {
        "full": (None, mesh.faces),
        "decimated": (torch.as_tensor(decimated.vertex_index), torch.as_tensor(decimated.faces)),
    }
    rows = []
    for device in devices:
        for name, (index, faces) in meshes.items():
            points = (vertices if index is None else vertices[:, index]).to(device)
            faces = faces.to(device)

            def run(points=points, faces=faces) -> None:
                points = points.detach().requires_grad_(True)
                soft = soft_silhouette(points, faces, FOCAL * scale, None, (size, size), checkpointed=False)
                soft.square().sum().backward()

            seconds = best_seconds(run, device, min_seconds=1.0)
            rows.append(
                {
                    "device": device,
                    "mesh": name,
                    "faces": int(faces.shape[0]),
                    "batch_size": batch_size,
                    "size": size,
                    "ms_per_image": seconds * 1e3 / batch_size,
                }
            )
    return rows


def _opencv_version() -> str | None:
    if importlib.util.find_spec("cv2") is None:
        return None
    import cv2

    return cv2.__version__


def print_table(report: dict) -> None:
    print(f"mesh: {report['mesh']}, {report['faces']} faces; image {report['image_size']}^2")
    print(
        f"OpenCV fillConvexPoly loop: {report['opencv_ms_per_image']:.2f} ms per silhouette "
        f"(IoU with ours {report['silhouette_iou_vs_opencv']:.3f})"
    )
    print(
        f"{'device':>6} {'batch':>6} {'ms/batch':>10} {'ms/image':>9} {'images/s':>10} {'x OpenCV time':>14}"
    )
    for row in report["results"]:
        print(
            f"{row['device']:>6} {row['batch_size']:>6} {row['ms_per_batch']:>10.2f} "
            f"{row['ms_per_image']:>9.3f} {row['images_per_second']:>10.0f} {row['time_vs_opencv']:>14.2f}"
        )
    print("soft silhouette, forward + backward:")
    for row in report["soft_silhouette"]:
        print(
            f"{row['device']:>6} {row['mesh']:>10} ({row['faces']} faces), batch {row['batch_size']}, "
            f"{row['size']} px: {row['ms_per_image']:.1f} ms per image"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--soft_size", type=int, default=64, help="soft-silhouette raster side")
    parser.add_argument("--soft_batch", type=int, default=8, help="soft-silhouette batch size")
    parser.add_argument("--cpu_only", action="store_true", help="skip CUDA even when it is available")
    parser.add_argument("--json", type=Path, default=Path("outputs/renderer_benchmark.json"))
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.size < 1:
        parser.error("batch sizes and the image size must be positive.")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    report = benchmark(args.batch_sizes, args.size, devices)
    mesh, _ = load_mesh()
    report["soft_silhouette"] = soft_silhouette_rows(mesh, args.soft_batch, args.soft_size, devices)
    print_table(report)
    write_report(report, args.json)


if __name__ == "__main__":
    main()
