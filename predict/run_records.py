"""The record of a prediction output folder, kept truthful across runs, kills and failures.

- `records.jsonl`: one JSON line per image, appended as soon as the image is done (its outputs written or
  its failure known); a killed run leaves the lines of every image it finished. A line cut short by a
  kill is skipped on reading.
- `summary.json` is built from what the folder holds: the latest record of every output name (the stem;
  two runs into one folder are both described), updated by the current run.
- One writer at a time: a run holds an exclusive lock on `.straps_run.lock` (flock, released by the
  system when the process ends, also on SIGKILL); a second run into the folder is refused with one
  sentence.
- On opening, the folder must be writable (checked with a probe file before any model loads), and the
  temporary files of dead runs are removed (utils/stale_files.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from predict.outputs import PICTURE_SUFFIXES, ImageResult, OutputOptions
from utils.errors import UsageError
from utils.stale_files import remove_stale_temp_files

RECORDS_NAME = "records.jsonl"
LOCK_NAME = ".straps_run.lock"


class OutputFolderUnusableError(UsageError, OSError):
    """The output folder cannot be created or written, or another run is writing into it."""


class OutputFolder:
    """An output folder opened for one run: locked, checked writable, stale temporary files removed, earlier
    records read. Use as a context manager (or call `close`) to release the lock.

    Attributes:
        path: the folder.
        previous: stem -> the latest record of earlier runs (as written to records.jsonl).
        removed_temp_files: temporary files of dead runs that were removed on opening.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._created = not self.path.exists()
        _create_writable(self.path)
        self._lock: TextIO | None = _acquire_lock(self.path)
        try:
            self.removed_temp_files = remove_stale_temp_files(self.path)
            self.previous = read_records(self.path / RECORDS_NAME)
        except BaseException:
            self.close()
            raise
        self.write_error: str | None = None

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self.close()
        if exc_type is not None and self._created:
            # A run that failed before writing anything (e.g. a missing checkpoint) leaves no folder behind.
            with contextlib.suppress(OSError):
                (self.path / LOCK_NAME).unlink()
                self.path.rmdir()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None

    def is_complete(self, stem: str, path: Path, outputs: OutputOptions) -> bool:
        """Whether `path` was done in an earlier run: recorded ok under `stem` for the same input file, with
        every file `outputs` asks for recorded and present (files are written whole, so present is valid)."""
        record = self.previous.get(stem)
        if record is None or record.get("status") != "ok" or record.get("stem") != stem:
            return False
        if os.path.abspath(record.get("path", "")) != os.path.abspath(path):
            return False
        recorded = set(record.get("outputs", []))
        wanted = expected_outputs(stem, outputs)
        return wanted <= recorded and all((self.path / name).is_file() for name in wanted)

    def append(self, stem: str, result: ImageResult) -> None:
        """Append one image's record; a write failure (disk full) is kept in `write_error`, not raised: the
        run goes on and the summary still describes the image."""
        line = json.dumps({"stem": stem, **result.to_json()}, allow_nan=False) + "\n"
        try:
            with (self.path / RECORDS_NAME).open("a", encoding="utf-8") as file:
                file.write(line)
        except OSError as error:
            reason = error.strerror or error
            self.write_error = f"{self.path / RECORDS_NAME} could not be appended to ({reason})"


def expected_outputs(stem: str, outputs: OutputOptions) -> set[str]:
    """The files (relative to the output folder) that `outputs` writes for `stem`."""
    names = {f"{stem}.{kind}" for kind in ("npz", "obj") if getattr(outputs, kind)}
    names |= {stem + suffix for kind, suffix in PICTURE_SUFFIXES.items() if getattr(outputs, kind)}
    return names


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """stem -> latest record of a records.jsonl, in order of first appearance; unreadable lines skipped."""
    records: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    except OSError as error:
        raise OutputFolderUnusableError(f"{path} cannot be read ({error.strerror or error}).") from None
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and isinstance(record.get("stem"), str):
                records[record["stem"]] = record
    return records


def merged_results(previous: dict[str, dict[str, Any]], current: Iterable[tuple[str, ImageResult]]) -> list:
    """ImageResults of the whole folder: earlier records, each replaced by this run's result for its stem."""
    merged: dict[str, ImageResult] = {stem: result_from_record(record) for stem, record in previous.items()}
    for stem, result in current:
        merged[stem] = result
    return list(merged.values())


def result_from_record(record: dict[str, Any]) -> ImageResult:
    return ImageResult(
        path=str(record.get("path", "")),
        status=str(record.get("status", "failed")),
        reason=record.get("reason"),
        timings_ms=dict(record.get("timings_ms") or {}),
        fit=record.get("fit"),
        outputs=list(record.get("outputs") or []),
        overlay_scale=record.get("overlay_scale"),
    )


def _create_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderUnusableError(
            f"Output folder {folder} cannot be created ({error.strerror or error}); pass an --output folder "
            "in a place you can write to."
        ) from None
    probe = folder / f".straps_write_probe{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise _not_writable(folder, error) from None


def _acquire_lock(folder: Path) -> TextIO:
    try:
        lock = (folder / LOCK_NAME).open("a+")
    except OSError as error:
        raise _not_writable(folder, error) from None
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise OutputFolderUnusableError(
            f"Another run (process {holder}) is writing into {folder}; wait for it to finish or pass another "
            "--output folder."
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _not_writable(folder: Path, error: OSError) -> OutputFolderUnusableError:
    return OutputFolderUnusableError(
        f"Output folder {folder} is not writable ({error.strerror or error}); pass an --output folder "
        "you can write to."
    )
