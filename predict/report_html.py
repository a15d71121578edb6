"""`report.html`: one self-contained page per output folder to browse a run.

From the run's summary (predict.outputs.build_summary): the images that failed, with their reasons, at the
top; then every image with its overlay and side view (by relative path to the files beside the page), its
fit scores (with refinement, the refined ones beside the regressor's own, and whether the fit kept the
regressor's result), timings and files; then the run's settings. Nothing is fetched: no network, no script
library; a small inline script sorts the table by any column (click a header;
`report.html#sort=silhouette_iou` opens it sorted worst fit first, `#sort=KEY:desc` the other way) and marks
a picture whose file is missing.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from utils.runtime import atomic_path

REPORT_NAME = "report.html"
THUMBNAIL_HEIGHT = 180  # pixels on the page
# Pictures shown per image, by the suffix of their file names (several with a person index: <stem>_p0...).
SHOWN_PICTURES = (("overlay", "_overlay.png"), ("side view", "_side.png"))
# The fit columns summary.json's `fit` gives, in this order and with these titles; its nested records (the
# regressor's own scores, the refinement's record) become flat columns under dotted keys (`flat_fit`).
# Other keys follow, titled with their keys.
FIT_TITLES = {
    "silhouette_iou": "silhouette IoU",
    "regressor.silhouette_iou": "regressor's silhouette IoU",
    "joints2d_error_px": "2D joint error (px)",
    "regressor.joints2d_error_px": "regressor's 2D joint error (px)",
    "refinement.kept_regressor": "kept the regressor",
    "refinement.objective_start": "objective before refinement",
    "refinement.objective_end": "objective after refinement",
}
FIT_NOTE = "refinement.note"  # why the regressor's result was kept: the tooltip of that cell, not a column

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
th[data-key] { cursor: pointer; background: #eef; } th[data-key]:hover { background: #dde; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
#failures td { background: #fee; } .num { text-align: right; font-variant-numeric: tabular-nums; }
img { height: THUMBNAIL_HEIGHTpx; } .missing-file { color: #a00; } .files { font-size: 12px; }
""".replace("THUMBNAIL_HEIGHT", str(THUMBNAIL_HEIGHT))

# Sorting and missing-picture marks; plain DOM calls, no library.
_SCRIPT = """
function sortTable(key, descending) {
  const header = document.querySelector('#images th[data-key="' + key + '"]');
  if (!header) return;
  const column = Array.from(header.parentNode.children).indexOf(header);
  const body = document.querySelector('#images tbody');
  const value = row => row.children[column].dataset.value;
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = value(a), y = value(b);
    if (x === '' || y === '') return (x === '') - (y === '');  // no value: always last
    const difference = header.dataset.type === 'number' ? x - y : x.localeCompare(y);
    return descending ? -difference : difference;
  });
  rows.forEach(row => body.appendChild(row));
  document.querySelectorAll('#images th[data-key]').forEach(th => th.removeAttribute('aria-sort'));
  header.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
}
document.querySelectorAll('#images th[data-key]').forEach(header => header.addEventListener('click', () =>
  sortTable(header.dataset.key, header.getAttribute('aria-sort') === 'ascending')));
const wanted = /^#sort=([\\w.-]+)(:desc)?$/.exec(decodeURIComponent(location.hash));
if (wanted) sortTable(wanted[1], Boolean(wanted[2]));
for (const img of Array.from(document.images)) {
  const mark = () => {
    if (img.naturalWidth > 0) { img.dataset.shown = 'yes'; return; }
    const note = document.createElement('span');
    note.className = 'missing-file';
    note.textContent = 'missing: ' + img.getAttribute('src');
    img.replaceWith(note);
  };
  if (img.complete) mark(); else { img.addEventListener('load', mark); img.addEventListener('error', mark); }
}
"""


def write_report_html(output_dir: Path, summary: dict[str, Any]) -> Path:
    """Write `report.html` for a run into its output folder (whole or not at all); returns its path."""
    path = Path(output_dir) / REPORT_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(report_html(summary), encoding="utf-8")
    return path


def report_html(summary: dict[str, Any]) -> str:
    """The page for a summary {"run": {...}, "images": [{"path", "status", "reason"?, "timings_ms", "fit"?,
    "outputs", ...}]}; keys it does not know are shown as they are, missing ones left blank."""
    run = summary.get("run", {})
    images = summary.get("images", [])
    failed = [entry for entry in images if entry.get("status") != "ok"]
    done = [entry for entry in images if entry.get("status") == "ok"]
    counts = f"{len(done)} of {len(images)} images done, {len(failed)} failed"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>STRAPS prediction report: {_text(run.get('input', ''))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f'<h1>Prediction report</h1><p id="counts">{_text(counts)}. Input: '
        f"<code>{_text(run.get('input', ''))}</code>. Click a column header to sort; the silhouette IoU "
        "column ascending puts the worst fits first.</p>",
        _failures_section(failed),
        _images_section(done),
        _settings_section(run),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _failures_section(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return '<h2>Failed images</h2><p id="failures">None.</p>'
    rows = "".join(
        f"<tr><td><code>{_text(entry.get('path', ''))}</code></td>"
        f"<td>{_text(entry.get('reason', ''))}</td></tr>"
        for entry in failed
    )
    return (
        f'<h2>Failed images ({len(failed)})</h2><table id="failures"><thead><tr><th>image</th><th>reason</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def flat_fit(fit: Mapping[str, Any]) -> dict[str, Any]:
    """A fit entry with its nested records flattened to dotted keys: {"regressor": {"silhouette_iou": x}}
    -> {"regressor.silhouette_iou": x}."""
    flat: dict[str, Any] = {}
    for key, value in fit.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{inner}": item for inner, item in flat_fit(value).items()})
        else:
            flat[key] = value
    return flat


def _images_section(done: list[dict[str, Any]]) -> str:
    fits = [flat_fit(entry.get("fit") or {}) for entry in done]
    found = dict.fromkeys(key for fit in fits for key in fit if key != FIT_NOTE)
    fit_keys = [key for key in FIT_TITLES if key in found] + [key for key in found if key not in FIT_TITLES]
    headers = ['<th data-key="image" data-type="text">image</th>']
    headers += [f"<th>{_text(label)}</th>" for label, _ in SHOWN_PICTURES]
    headers += [
        f'<th data-key="{_text(key)}" data-type="{"text" if _is_flag(key, fits) else "number"}" '
        f'title="{_text(key)}">{_text(FIT_TITLES.get(key, key))}</th>'
        for key in fit_keys
    ]
    headers += ['<th data-key="total_ms" data-type="number">time (ms)</th>', "<th>files</th>"]
    rows = []
    for entry, fit in zip(done, fits, strict=True):
        path = str(entry.get("path", ""))
        name = PurePosixPath(path.replace("\\", "/")).name
        outputs = [str(file) for file in entry.get("outputs", [])]
        cells = [f'<td data-value="{_text(name)}" title="{_text(path)}">{_text(name)}</td>']
        for label, suffix in SHOWN_PICTURES:
            pictures = [file for file in outputs if file.endswith(suffix)]
            cells.append("<td>" + "".join(_picture(file, label) for file in pictures) + "</td>")
        cells += [
            _flag_cell(fit.get(key), str(fit.get(FIT_NOTE, "")))
            if _is_flag(key, fits)
            else _number_cell(fit.get(key))
            for key in fit_keys
        ]
        timings = entry.get("timings_ms") or {}
        stages = ", ".join(f"{stage} {ms:.0f}" for stage, ms in timings.items() if stage != "total")
        cells.append(_number_cell(timings.get("total"), title=stages, digits=0))
        cells.append(f'<td class="files">{_links(outputs)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<h2>Images ({len(done)})</h2><table id="images"><thead><tr>{"".join(headers)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _settings_section(run: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{_text(key)}</th><td><code>{_text(_setting(value))}</code></td></tr>"
        for key, value in run.items()
    )
    return f'<h2>Run settings</h2><table id="settings"><tbody>{rows}</tbody></table>'


def _picture(file: str, label: str) -> str:
    source = _href(file)
    return f'<a href="{source}"><img src="{source}" alt="{_text(label)}: {_text(file)}"></a>'


def _links(files: Iterable[str]) -> str:
    return "<br>".join(f'<a href="{_href(file)}">{_text(file)}</a>' for file in files)


def _is_flag(key: str, fits: list[dict[str, Any]]) -> bool:
    """Whether a fit column holds yes / no values (such as `refinement.kept_regressor`)."""
    return any(isinstance(fit.get(key), bool) for fit in fits)


def _flag_cell(value: Any, title: str) -> str:
    shown = "" if not isinstance(value, bool) else ("yes" if value else "no")
    title_attribute = f' title="{_text(title)}"' if title else ""
    return f'<td data-value="{shown}"{title_attribute}>{shown}</td>'


def _number_cell(value: Any, title: str = "", digits: int = 4) -> str:
    number = value if isinstance(value, int | float) and math.isfinite(value) else None
    shown = "" if number is None else f"{number:.{digits}f}"
    title_attribute = f' title="{_text(title)}"' if title else ""
    return f'<td class="num" data-value="{"" if number is None else number}"{title_attribute}>{shown}</td>'


def _setting(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _href(relative_path: str) -> str:
    """A relative URL for a file in the output folder (its name percent-encoded, '/' kept)."""
    return _text(quote(relative_path, safe="/"))


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)
