"""run_predict.py --export glb,bvh end to end, and its files in a real headless browser.

Two rendered people (one with '#' and a space in its name, which URLs must encode) and one corrupt file go
through the precomputed detector: the glb and BVH of each person replay its npz within 1 mm; three.js (the
web's common glTF viewer) shows the glb through its own camera where our renderer shows the npz's mesh; and
report.html lists every picture, the failure at the top, and sorts by fit score in Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_predict
from models.bundle import load_bundle
from predict.report_html import REPORT_NAME, report_html
from renderers import silhouette
from tests.gltf_readers import (
    CAMERA_TO_GLTF,
    MM,
    WEB_TOOLS,
    bvh_positions,
    check_gltf_rules,
    parse_bvh,
    read_glb,
    skin_glb,
)
from tests.helpers import make_checkpoint, render_person, write_precomputed, write_rgb
from utils.joint_names import SMPL_JOINT_NAMES
from utils.metrics import silhouette_iou

PEOPLE = ("person #1", "person2")
CORRUPT = "broken.jpg"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("open")


@pytest.fixture(scope="module")
def export_run(tmp_path_factory: pytest.TempPathFactory, bundle) -> dict:
    root = tmp_path_factory.mktemp("exports")
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    for seed, (stem, size) in enumerate(zip(PEOPLE, [(320, 256), (288, 352)], strict=True)):
        rgb, mask, keypoints = render_person(bundle, 20 + seed, size)
        write_rgb(images / f"{stem}.png", rgb)
        write_precomputed(masks, stem, mask, keypoints)
    (images / CORRUPT).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    checkpoint = make_checkpoint(root / "regressor.pt", bundle)
    argv = ["--input", str(images), "--checkpoint", str(checkpoint), "--silh_from", "precomputed"]
    argv += ["--mask_dir", str(masks), "--export", "glb,bvh", "--quiet", "--no-tpose", "--no-proxy"]
    exit_code = run_predict.main(argv)
    output = root / "images_straps_output"
    summary = json.loads((output / "summary.json").read_text())
    return {"exit_code": exit_code, "output": output, "summary": summary}


def test_run_writes_glb_and_bvh_that_replay_the_npz(export_run: dict, bundle) -> None:
    assert export_run["exit_code"] == 0
    summary, output = export_run["summary"], export_run["output"]
    assert summary["run"]["exports"] == ["glb", "bvh"]
    entries = {Path(entry["path"]).stem: entry for entry in summary["images"]}
    assert entries["broken"]["status"] == "failed"
    for stem in PEOPLE:
        assert {f"{stem}.glb", f"{stem}.bvh"} <= set(entries[stem]["outputs"])
        with np.load(output / f"{stem}.npz") as data:
            npz = {key: data[key] for key in data.files}
        gltf, blob = read_glb(output / f"{stem}.glb")
        check_gltf_rules(gltf, blob)
        assert not gltf.animations  # one image: the pose stands in the nodes
        assert gltf.asset.extras["body_model"] == "open" and len(gltf.asset.extras["betas"]) == 10
        camera = gltf.cameras[0]
        height, width = (2 * npz["principal_point"][::-1]).tolist()  # the principal point is the centre
        assert camera.perspective.aspectRatio == pytest.approx(width / height)
        assert camera.extras["focal_length_px"] == pytest.approx(float(npz["focal_length"]))
        error = np.linalg.norm(skin_glb(gltf, blob) - npz["vertices"], axis=1).max()
        assert error < 1 * MM, f"{stem}: {error * 1000:.3f} mm"

        with torch.no_grad():
            skeleton = bundle.body_model(
                torch.from_numpy(npz["pose_rotmats"])[None], torch.from_numpy(npz["betas"])[None]
            )
        expected = skeleton.joints[0].double().numpy() + npz["cam_t"]
        joints, frames, _ = parse_bvh((output / f"{stem}.bvh").read_text())
        assert len(frames) == 1
        positions = bvh_positions(joints, frames[0])
        replayed = np.stack([positions[name] for name in SMPL_JOINT_NAMES]) @ CAMERA_TO_GLTF.T
        assert np.linalg.norm(replayed - expected, axis=1).max() < 1 * MM


def test_unknown_export_format_is_a_usage_error(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    assert run_predict.main(["--input", str(image), "--export", "glb,fbx", "--quiet"]) == 2
    assert "--export: Unknown export format(s) fbx; choose from glb, bvh." in capsys.readouterr().err


def test_report_is_self_contained_and_lists_everything(export_run: dict) -> None:
    output = export_run["output"]
    page = (output / REPORT_NAME).read_text()
    assert "http:" not in page and "https:" not in page and "<link" not in page and "<script src" not in page
    assert page.index("Failed images (1)") < page.index("Images (2)") < page.index("Run settings")
    assert CORRUPT in page and "corrupt" in page
    # Pictures and files by relative path, percent-encoded ('#' would otherwise end the path).
    assert 'src="person%20%231_overlay.png"' in page and 'href="person%20%231.glb"' in page
    assert "person #1.glb" in page


@pytest.mark.reliability
def test_report_escapes_and_tolerates_odd_summaries() -> None:
    summary = {
        "run": {"input": "<b>x</b>", "outputs": ["npz"]},
        "images": [
            {"path": "a<b>.png", "status": "failed", "reason": "It said <no> & left."},
            {"path": "c.png", "status": "ok", "fit": {"silhouette_iou": None}, "outputs": ["c.npz"]},
        ],
    }
    page = report_html(summary)
    assert "<b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and "It said &lt;no&gt; &amp; left." in page
    assert '<td class="num" data-value=""></td>' in page  # a missing score is an empty cell, sorted last
    empty = report_html({})
    assert "0 of 0 images done, 0 failed" in empty and "<tbody></tbody>" in empty


def test_report_shows_the_regressors_scores_beside_the_refined_ones() -> None:
    """summary.json's fit nests the regressor's scores and the refinement's record: flat columns here."""

    def entry(path: str, iou: float, regressor_iou: float, kept: bool, note: str = "") -> dict:
        refinement = {"objective_start": 0.5, "objective_end": 0.2, "kept_regressor": kept}
        return {
            "path": path,
            "status": "ok",
            "fit": {
                "silhouette_iou": iou,
                "joints2d_error_px": 4.0,
                "regressor": {"silhouette_iou": regressor_iou, "joints2d_error_px": 9.0},
                "refinement": refinement | ({"note": note} if note else {}),
            },
            "outputs": [],
        }

    summary = {
        "images": [entry("a.png", 0.81, 0.55, False), entry("b.png", 0.4, 0.4, True, "it fills its crop")]
    }
    page = report_html(summary)
    reader = _DomReader()
    reader.feed(page)
    header = page.split('<table id="images"><thead><tr>')[1].split("</tr></thead>")[0]
    assert [html.unescape(title) for title in re.findall(r">([^<>]+)</th>", header)] == [
        "image",
        "overlay",
        "side view",
        "silhouette IoU",
        "regressor's silhouette IoU",
        "2D joint error (px)",
        "regressor's 2D joint error (px)",
        "kept the regressor",
        "objective before refinement",
        "objective after refinement",
        "time (ms)",
        "files",
    ]
    rows = [row[3:8] for row in reader.rows["images"] if row]  # the header row has no cells
    assert rows == [["0.81", "0.55", "4.0", "9.0", "no"], ["0.4", "0.4", "4.0", "9.0", "yes"]]
    assert 'title="it fills its crop">yes</td>' in page


class _DomReader(HTMLParser):
    """Collects from a dumped DOM: per table id its rows' cells (data-value), the images' attributes, the
    failure table's text and the missing-picture notes."""

    def __init__(self) -> None:
        super().__init__()
        self.table: str | None = None
        self.rows: dict[str, list[list[str | None]]] = {}
        self.images: list[dict[str, str | None]] = []
        self.text: dict[str, str] = {}
        self.missing = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.table = attributes.get("id")
        elif tag == "tr" and self.table:
            self.rows.setdefault(self.table, []).append([])
        elif tag == "td" and self.table:
            self.rows[self.table][-1].append(attributes.get("data-value"))
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "span" and attributes.get("class") == "missing-file":
            self.missing += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.table:
            self.text[self.table] = self.text.get(self.table, "") + data


def run_chromium(url: str, profile: Path) -> str:
    """The DOM of a page after its scripts ran, from headless Chromium (WebGL through SwiftShader)."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    command += [
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    command += ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    command += ["--virtual-time-budget=10000", "--dump-dom", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    return result.stdout


def chromium_dom(url: str, profile: Path) -> _DomReader:
    reader = _DomReader()
    reader.feed(run_chromium(url, profile))
    return reader


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served(root: Path) -> Iterator[str]:
    """Serve a folder on a free local port (ES modules do not load from file:// pages); yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
@pytest.mark.skipif(
    not (WEB_TOOLS / "node_modules" / "three").is_dir(),
    reason="three.js is not installed (npm ci --prefix tests/web, with Node.js)",
)
def test_glb_in_threejs_matches_our_render(export_run: dict, tmp_path: Path) -> None:
    """three.js skins the glb (four influences per vertex, its limit) and draws it through the glb's camera:
    the silhouette is our renderer's silhouette of the npz's vertices with the npz's camera."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "web").symlink_to(WEB_TOOLS)
    (root / "out").symlink_to(export_run["output"])
    with served(root) as url:
        dom = run_chromium(f"{url}/web/view_glb.html?glb=../out/person2.glb&mode=silhouette", tmp_path / "p")
    assert "data-error" not in dom
    encoded = re.search(r'data-png="data:image/png;base64,([^"]+)"', dom)
    assert encoded is not None
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(encoded.group(1)), np.uint8), cv2.IMREAD_GRAYSCALE)
    with np.load(export_run["output"] / "person2.npz") as data:
        vertices, faces = torch.from_numpy(data["vertices"])[None], torch.from_numpy(data["faces"]).long()
        focal, centre = float(data["focal_length"]), torch.from_numpy(data["principal_point"])
    height, width = (2 * centre.flip(0)).round().int().tolist()
    assert picture.shape == (height, width)  # the camera's image size, 288 x 352
    ours = silhouette(vertices, faces, focal, centre, (height, width))[0]
    theirs = torch.from_numpy(picture > 127)
    assert theirs.sum() > 3000
    assert float(silhouette_iou(ours[None], theirs[None])) > 0.99  # 0.998 measured


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_in_headless_chromium(export_run: dict, tmp_path: Path) -> None:
    output = export_run["output"]
    page = output / REPORT_NAME
    scores = {
        Path(entry["path"]).name: entry["fit"]["silhouette_iou"]
        for entry in export_run["summary"]["images"]
        if entry["status"] == "ok"
    }
    for sort, descending in (("#sort=silhouette_iou", False), ("#sort=silhouette_iou:desc", True)):
        dom = chromium_dom(page.as_uri() + sort, tmp_path / "profile")
        # Every overlay and side view loaded (the page's script marks each shown picture).
        assert len(dom.images) == 4 and all(image.get("data-shown") == "yes" for image in dom.images)
        assert dom.missing == 0
        assert CORRUPT in dom.text["failures"]
        rows = [row for row in dom.rows["images"] if row]
        names = [row[0] for row in rows]
        assert sorted(names) == sorted(f"{stem}.png" for stem in PEOPLE)
        assert names == sorted(scores, key=scores.get, reverse=descending)  # sorted by fit score
    # A picture that was moved away is named on the page instead of showing as a broken image.
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    (copy / "person2_side.png").unlink()
    dom = chromium_dom((copy / REPORT_NAME).as_uri(), tmp_path / "profile")
    assert dom.missing == 1 and len(dom.images) == 3
    assert all(image.get("data-shown") == "yes" for image in dom.images)
