"""The contact sheet of a prediction run."""

from __future__ import annotations

import json

import cv2
import numpy as np

from tools.output_sheet import output_sheet


def test_sheet_pairs_overlays_with_side_views_and_skips_failures(tmp_path):
    images = []
    for index, shape in enumerate([(100, 150), (80, 80), (60, 120)]):
        stem = f"img{index}"
        cv2.imwrite(str(tmp_path / f"{stem}_overlay.png"), np.full((*shape, 3), 50 * index, np.uint8))
        cv2.imwrite(str(tmp_path / f"{stem}_side.png"), np.full((40, 40, 3), 255, np.uint8))
        images.append(
            {"path": f"{stem}.jpg", "status": "ok", "outputs": [f"{stem}_overlay.png", f"{stem}_side.png"]}
        )
    images.append({"path": "bad.jpg", "status": "failed", "reason": "unreadable", "outputs": []})
    (tmp_path / "summary.json").write_text(json.dumps({"run": {}, "images": images}))
    sheet = output_sheet(tmp_path, height=20, pairs_per_row=2)
    # Row 1: (30 + 20) + (20 + 20) px wide; row 2: 40 + 20, padded to the first row's width.
    assert sheet.shape == (40, 90, 3)
    assert (sheet[:20, :30] == 0).all() and (sheet[:20, 30:50] == 255).all()  # img0 overlay, side view
    assert (sheet[20:, :40] == 100).all() and (sheet[20:, 60:] == 0).all()  # img2 overlay; padding
