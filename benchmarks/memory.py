"""Peak memory of `run_predict.py` on a hostile folder: good pictures (copies of demo/) mixed with every bad
kind of benchmarks/hostile_folder.py, decompression bombs included.

    python -m benchmarks.memory --entries 1000            # 983 pictures + the 17 bad kinds
    python -m benchmarks.memory --entries 100 --json out.json

The run is a child process with every output on; its resident memory is sampled every 0.2 s from
/proc (Linux) and its peak read from the kernel's accounting (getrusage of the children). Prints one JSON
object: entries, statuses, wall time, images per second, peak and sampled memory in MiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.hostile_folder import BAD_KINDS, make_bad_entries
from utils.image_io import list_images
from utils.runtime import REPO_ROOT


def build_folder(folder: Path, entries: int, pictures: Path = REPO_ROOT / "demo") -> int:
    """`entries` image-named entries in `folder`: the bad kinds, then copies of `pictures`' images;
    returns the number of good pictures."""
    good = entries - len(BAD_KINDS)
    if good < 1:
        raise ValueError(f"--entries must be more than the {len(BAD_KINDS)} bad kinds, got {entries}.")
    make_bad_entries(folder)
    sources = list_images(pictures)
    for index in range(good):
        source = sources[index % len(sources)]
        shutil.copyfile(source, folder / f"good_{index:04d}{source.suffix.lower()}")
    return good


def measure(folder: Path, output: Path, extra: list[str]) -> dict:
    """Run run_predict.py on `folder` and sample its memory."""
    command = [sys.executable, str(REPO_ROOT / "run_predict.py"), "--input", str(folder)]
    command += ["--output", str(output), "--quiet", *extra]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    samples = []
    while child.poll() is None:
        rss = _rss_mib(child.pid)
        if rss is not None:
            samples.append(rss)
        time.sleep(0.2)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    summary = json.loads((output / "summary.json").read_text()) if (output / "summary.json").is_file() else {}
    statuses = Counter(entry["status"] for entry in summary.get("images", []))
    later = samples[len(samples) // 4 :] or samples  # after models and the first images are loaded
    return {
        "exit_code": child.returncode,
        "stderr_lines": len(stderr.decode(errors="replace").splitlines()),
        "summary_lines": sum(statuses.values()),
        "statuses": dict(statuses),
        "wall_s": round(wall, 1),
        "images_per_s": round(sum(statuses.values()) / wall, 2),
        "peak_rss_mib": round(peak_mib, 1),
        "rss_mib_after_warmup": [round(min(later), 1), round(max(later), 1)] if later else None,
        "stdout": stdout.decode(errors="replace").strip(),
    }


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000, help="folder entries in all (default: 1000)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result to this file")
    parser.add_argument("run_predict_args", nargs="*", help="extra run_predict.py options (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="straps_memory_") as tmp:
        folder = Path(tmp) / "hostile"
        good = build_folder(folder, args.entries)
        result = {"entries": args.entries, "good_pictures": good, "bad_kinds": len(BAD_KINDS)}
        result |= measure(folder, Path(tmp) / "out", args.run_predict_args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0 if result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
