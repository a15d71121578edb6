"""A contact sheet of a prediction run: each image's overlay beside its side view, a few pairs per row.

    python -m tools.output_sheet demo_straps_output --out docs/demo_outputs.jpg [--height 200] [--pairs 3]

Reads the run's summary.json for the order and the successful images; every picture is scaled to one height.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def output_sheet(run_dir: Path, height: int = 200, pairs_per_row: int = 3) -> np.ndarray:
    """(H, W, 3) BGR sheet of the run's `<stem>_overlay.png` and `<stem>_side.png` pairs."""
    summary = json.loads((run_dir / "summary.json").read_text())
    cells = []
    for entry in summary["images"]:
        names = [name for name in entry.get("outputs", []) if name.endswith(("_overlay.png", "_side.png"))]
        if entry.get("status") != "ok" or len(names) != 2:
            continue
        pictures = [cv2.imread(str(run_dir / name)) for name in sorted(names)]  # overlay, then side
        cells.append(np.concatenate([_to_height(picture, height) for picture in pictures], axis=1))
    if not cells:
        raise SystemExit(f"{run_dir} holds no image with both an overlay and a side view.")
    rows = [cells[i : i + pairs_per_row] for i in range(0, len(cells), pairs_per_row)]
    strips = [np.concatenate(row, axis=1) for row in rows]
    width = max(strip.shape[1] for strip in strips)
    return np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips], axis=0)


def _to_height(picture: np.ndarray, height: int) -> np.ndarray:
    width = round(picture.shape[1] * height / picture.shape[0])
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="an output folder of run_predict.py")
    parser.add_argument("--out", type=Path, required=True, help="the JPEG to write")
    parser.add_argument("--height", type=int, default=200, help="height of each picture in pixels")
    parser.add_argument("--pairs", type=int, default=3, help="overlay + side pairs per row")
    args = parser.parse_args(argv)
    sheet = output_sheet(args.run_dir, args.height, args.pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]})")


if __name__ == "__main__":
    main()
