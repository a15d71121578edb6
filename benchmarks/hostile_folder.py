"""Hostile input folders, built at run time: the bad or odd entries a real folder of pictures holds, and
decompression bombs. Used by the reliability tests and by `python -m benchmarks.memory`.

`BAD_KINDS` maps each kind to a function that creates the entry at a path (the entry's name carries an
image extension, so that a run lists it); every one of them must cost its summary line and nothing else.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np


def png_bomb(width: int, height: int, bit_depth: int = 8, rows: int = 64) -> bytes:
    """A small PNG declaring `width` x `height` RGB pixels: its first `rows` rows of zeros are compressed in
    full (a few hundred bytes per row), the rest is missing, as in a decompression bomb cut for size."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    row = b"\x00" * (1 + width * 3 * bit_depth // 8)
    idat = zlib.compress(row * rows, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _encoded(suffix: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(suffix, image)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {suffix} test image.")
    return data.tobytes()


def _blank(height: int = 64, width: int = 48) -> np.ndarray:
    return np.full((height, width, 3), 200, dtype=np.uint8)


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _truncated(suffix: str) -> Callable[[Path], None]:
    noise = np.random.default_rng(7).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    data = _encoded(suffix, noise)
    return _write(data[: len(data) // 2])


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _loop(path: Path) -> None:
    partner = path.with_name(path.name + ".partner")
    path.symlink_to(partner.name)
    partner.symlink_to(path.name)


def _unreadable(path: Path) -> None:
    path.write_bytes(_encoded(".png", _blank()))
    path.chmod(0)


BAD_KINDS: dict[str, tuple[str, Callable[[Path], None]]] = {
    # kind: (file name, creator)
    "empty": ("empty.png", _write(b"")),
    "text": ("notes.png", _write(b"this is a text file, not an image\n")),
    "random_bytes": ("noise.jpg", _write(np.random.default_rng(3).bytes(5000))),
    "truncated_png": ("truncated.png", _truncated(".png")),
    "truncated_jpeg": ("truncated.jpg", _truncated(".jpg")),
    "html_page": ("page.jpeg", _write(b"<!doctype html><html><body>404 Not Found</body></html>\n")),
    "folder": ("folder.jpg", lambda path: path.mkdir()),
    "dangling_symlink": ("dangling.jpg", _symlink("no_such_target.jpg")),
    "symlink_loop": ("loop.png", _loop),
    "fifo": ("pipe.png", lambda path: os.mkfifo(path)),
    "unreadable": ("locked.png", _unreadable),
    "png_bomb": ("bomb.png", _write(png_bomb(30000, 30000))),
    "png16_bomb": ("bomb16.png", _write(png_bomb(16000, 16000, bit_depth=16))),
    "blank_picture": ("blank.png", _write(_encoded(".png", _blank()))),
    "one_pixel": ("pixel.png", _write(_encoded(".png", _blank(1, 1)))),
    "sliver": ("sliver.png", _write(_encoded(".png", _blank(2, 3000)))),
    "wrong_extension": ("text_as.webp", _write(b"GIF89a" + bytes(64))),
}


def make_bad_entries(folder: Path) -> dict[str, Path]:
    """Create one entry of every kind in `folder`; returns kind -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for kind, (name, create) in BAD_KINDS.items():
        path = folder / name
        create(path)
        made[kind] = path
    return made
