"""A minimal PNG decoder (8-bit grey/RGB/RGBA, non-interlaced) in pure Python, for screenshot checks."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Return (width, height, channels, rows of raw pixel bytes)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos = 8
    idat = bytearray()
    width = height = depth = ctype = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    if depth != 8 or interlace != 0 or ctype not in (0, 2, 6):
        raise ValueError(f"unsupported PNG (depth={depth}, color type={ctype}, interlace={interlace})")
    channels = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def grey_stats(data: bytes, step: int = 4) -> tuple[float, float, int]:
    """Mean and variance of grey levels over a grid of pixels, and the number of distinct levels."""
    width, height, channels, rows = decode_png(data)
    values = []
    for y in range(0, height, step):
        row = rows[y]
        for x in range(0, width, step):
            px = row[x * channels : x * channels + min(channels, 3)]
            values.append(sum(px) // len(px))
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / len(values)
    return m, var, len(set(values))


# -- headless Chromium, shared by the report-rendering tests -----------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
NO_CHROMIUM = "headless Chromium is not installed (Debian: apt-get install chromium)"


def chromium_flags(profile: Path) -> list[str]:
    """Headless, offline, no first-run work, console messages on stderr."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
    ]


def screenshot(page: Path, shot: Path, window: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Render ``page`` to the PNG ``shot`` at ``window`` ("W,H"); the process result carries stderr."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *chromium_flags(profile), f"--screenshot={shot}", f"--window-size={window}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built from ``page``."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *chromium_flags(profile), "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
