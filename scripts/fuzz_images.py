"""Fuzz ``kerasviz.load_image`` with mutated real image files.

Every case must give a valid ``uint8 (H, W, 3)`` array or an ``ImageError``: no other exception,
no hang (each case has ``--timeout`` seconds), and peak memory under the stated bound
(the file's size plus ``BYTES_PER_PIXEL`` of ``max_pixels``: 16 bytes a pixel for what Pillow
decodes, 28 for the 32-bit colour TIFFs only OpenCV decodes; ``--max-pixels`` is 2**20 here so
that the bound is small enough to mean something).

The seeds are real files of every format and mode kerasviz reads (PNG, JPEG, GIF, BMP, TIFF
including 16-bit and the float / signed colour TIFFs only OpenCV decodes, WebP, PNM; modes P,
LA, I;16, I, F, CMYK, LAB, 1-bit; EXIF rotation; four at exactly ``max_pixels``) and of formats
it refuses (Radiance HDR, ICO, JPEG 2000, text, zero length). Each case applies up to three
mutations to one seed: truncation, bit flips, overwritten / inserted / deleted bytes, a splice
with another seed, an integer written into the header, or a lie about the image size in the
format's own header fields (zero, tiny, at and over the limit, 2**31 − 1, 2**32 − 1).

Cases run in a worker subprocess (Linux), which is killed and restarted when a case runs past
the limit. After a warm-up that loads every small seed once (plugins, codecs and OpenCV
imported), each case's peak memory is the worker's peak resident size during the case (VmHWM,
reset before each case through /proc/self/clear_refs) minus its resident size before it. Usage::

    python scripts/fuzz_images.py                       # 10,000 cases, seed 0
    python scripts/fuzz_images.py --cases 20000 --seed 3 --save /tmp/fuzz_cases

``--save DIR`` writes every case that failed (unexpected exception, invalid output, timeout,
crash) to ``DIR`` for a regression test. The exit status is 1 when any case failed or the peak
memory is over the bound. ``tests/test_images_hostile.py`` runs the same mutations with
hypothesis.
"""
from __future__ import annotations

import argparse
import collections
import io
import os
import pickle
import random
import re
import select
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAX_PIXELS = 2 ** 20
#: the stated bound on one case's peak memory beyond the file's own size (a decoder may copy the
#: file: Pillow's WebP plugin does), in bytes per pixel of max_pixels. Pillow holds
#: 4 bytes a pixel, NumPy's copy of it 4 (plus Pillow's transient bytes) and the RGB result 3;
#: the float / 32-bit colour TIFFs only OpenCV decodes hold 12 bytes a pixel by themselves.
BYTES_PER_PIXEL = {"Pillow": 16, "OpenCV": 28}
MUTATIONS = ("truncate", "flip", "overwrite", "insert", "delete", "splice", "int", "size")
#: sizes a header may lie about (each side); the limit is 1024 × 1024
SIZES = (0, 1, 3, 255, 1024, 1025, 4096, 65535, 2 ** 31 - 1, 2 ** 32 - 1)
INTS = (0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 1024, 1025)


# --- the seeds ---------------------------------------------------------------------------------

def corpus() -> dict[str, bytes]:
    """Name → encoded bytes: small files of every format and mode (a 64 × 48 crop of the
    Grace Hopper photo that ships with Matplotlib), four at 1024 × 1024, and refused formats."""
    import cv2
    import numpy as np
    from PIL import Image

    from kerasviz.data import photos

    rgb = Image.fromarray(photos.photo("grace_hopper")).resize((64, 48), Image.Resampling.BILINEAR)
    arr = np.asarray(rgb)
    ramp = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8) * 2
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(ramp))
    grey16 = arr[..., 0].astype(np.uint16) * 257
    big = np.add.outer(np.arange(1024), np.arange(1024)) // 8
    big_rgb = np.stack([big % 256, (big * 3) % 256, np.full_like(big, 90)], -1).astype(np.uint8)

    def pil(im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    def cv(a, ext):
        return cv2.imencode(ext, a)[1].tobytes()

    exif = rgb.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    frames = [rgb.quantize(16), rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT).quantize(16)]
    big_rgba = Image.fromarray(big_rgb)
    big_rgba.putalpha(Image.fromarray((big % 256).astype(np.uint8)))
    return {
        "png RGB": pil(rgb, "PNG"), "png RGBA": pil(rgba, "PNG"),
        "png P": pil(rgb.quantize(16), "PNG"),
        "png P transparent": pil(rgb.quantize(16), "PNG", transparency=0),
        "png LA": pil(rgba.convert("LA"), "PNG"), "png L": pil(rgb.convert("L"), "PNG"),
        "png 1-bit": pil(rgb.convert("1"), "PNG"), "png I;16": cv(grey16, ".png"),
        "png RGB 16-bit": cv(arr[..., ::-1].astype(np.uint16) * 257, ".png"),
        "jpeg RGB": pil(rgb, "JPEG"), "jpeg L": pil(rgb.convert("L"), "JPEG"),
        "jpeg CMYK": pil(rgb.convert("CMYK"), "JPEG"),
        "jpeg progressive": pil(rgb, "JPEG", progressive=True),
        "jpeg EXIF rotated": pil(rgb, "JPEG", exif=exif),
        "gif P": pil(frames[0], "GIF"),
        "gif animated": pil(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "bmp RGB": pil(rgb, "BMP"), "bmp P": pil(rgb.quantize(16), "BMP"),
        "bmp 1-bit": pil(rgb.convert("1"), "BMP"), "bmp RGBA": cv(np.asarray(rgba), ".bmp"),
        "tiff RGB": pil(rgb, "TIFF"), "tiff RGB lzw": pil(rgb, "TIFF", compression="tiff_lzw"),
        "tiff RGB jpeg": pil(rgb, "TIFF", compression="jpeg"),
        "tiff CMYK": pil(rgb.convert("CMYK"), "TIFF"), "tiff LAB": pil(rgb.convert("LAB"), "TIFF"),
        "tiff I;16": pil(Image.fromarray(grey16), "TIFF"),
        "tiff F": pil(Image.fromarray(arr[..., 1].astype(np.float32) / 255), "TIFF"),
        "tiff 1-bit group4": pil(rgb.convert("1"), "TIFF", compression="group4"),
        "tiff RGB 16-bit": cv(arr[..., ::-1].astype(np.uint16) * 257, ".tiff"),
        "tiff RGB float32 (OpenCV)": cv(arr[..., ::-1].astype(np.float32) / 255, ".tiff"),
        "tiff RGBA int16 (OpenCV)": cv(np.asarray(rgba)[..., [2, 1, 0, 3]].astype(np.int16),
                                       ".tiff"),
        "webp lossy": pil(rgb, "WEBP", quality=80),
        "webp lossless RGBA": pil(rgba, "WEBP", lossless=True),
        "ppm P6": pil(rgb, "PPM"), "pgm P5": pil(rgb.convert("L"), "PPM"),
        "pbm P4": pil(rgb.convert("1"), "PPM"), "pgm 16-bit": pil(Image.fromarray(grey16), "PPM"),
        "1 Mpx png RGBA": pil(big_rgba, "PNG"), "1 Mpx jpeg": pil(Image.fromarray(big_rgb), "JPEG"),
        "1 Mpx png RGB 16-bit": cv(big_rgb.astype(np.uint16) * 257, ".png"),
        "1 Mpx tiff RGB float32 (OpenCV)": cv(big_rgb.astype(np.float32) / 255, ".tiff"),
        "hdr (refused)": cv(arr[..., ::-1].astype(np.float32) / 255, ".hdr"),
        "ico (refused)": pil(rgb, "ICO"), "jpeg 2000 (refused)": cv(arr[..., ::-1], ".jp2"),
        "text (refused)": b"P6 is not a picture, nor is GIF89a or \x89PNG\n" * 4,
        "empty (refused)": b"",
    }


# --- the mutations -----------------------------------------------------------------------------

def mutate(data: bytes, kind: str, a: int, b: int, payload: bytes, others: list[bytes]) -> bytes:
    """One mutation of ``data``; ``a``, ``b`` (any non-negative ints) pick positions and values,
    ``payload`` (1–16 bytes) is the new content, ``others`` are the seeds to splice with."""
    n = len(data)
    if n == 0:
        return payload if kind in ("insert", "overwrite") else data
    pos = a % n
    if kind == "truncate":
        return data[:pos]
    if kind == "flip":
        out, pick = bytearray(data), random.Random(a * 2 ** 32 + b)
        for _ in range(1 + b % 8):
            out[pick.randrange(n)] ^= 1 << pick.randrange(8)
        return bytes(out)
    if kind == "overwrite":
        return data[:pos] + payload + data[pos + len(payload):]
    if kind == "insert":
        return data[:pos] + payload * (1 + b % 64) + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + 1 + b % 256:]
    if kind == "splice":
        other = others[b % len(others)]
        return data[:pos] + other[pos:] if other else data[:pos]
    if kind == "int":  # an integer into the header region, 2 or 4 bytes, either byte order
        code = ("<" if b & 1 else ">") + ("I" if b & 2 else "H")
        value = INTS[(b >> 2) % len(INTS)] & (0xFFFFFFFF if b & 2 else 0xFFFF)
        pos = a % min(n, 64)
        return data[:pos] + struct.pack(code, value) + data[pos + struct.calcsize(code):]
    if kind == "size":
        return declare_size(data, SIZES[a % len(SIZES)], SIZES[b % len(SIZES)])
    raise ValueError(f"unknown mutation {kind!r}")


def declare_size(data: bytes, w: int, h: int) -> bytes:
    """``data`` with its header saying ``w × h`` pixels (each cut to its field's width), in the
    fields each format's decoder reads first; unchanged for a format not handled here."""
    w16, h16, w32, h32 = w & 0xFFFF, h & 0xFFFF, w & 0xFFFFFFFF, h & 0xFFFFFFFF
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33:  # IHDR, with a valid CRC
        ihdr = data[12:16] + struct.pack(">II", w32, h32) + data[24:29]
        return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    if data[:3] == b"GIF" and len(data) >= 10:  # logical screen
        return data[:6] + struct.pack("<HH", w16, h16) + data[10:]
    if data[:2] == b"BM" and len(data) >= 26:
        return data[:18] + struct.pack("<II", w32, h32) + data[26:]
    if data[:2] == b"\xff\xd8":  # the first SOFn marker: height, then width
        m = re.search(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf]", data)
        if m and m.start() + 9 <= len(data):
            i = m.start() + 5
            return data[:i] + struct.pack(">HH", h16, w16) + data[i + 4:]
    if re.match(rb"P[1-6]\s", data):
        return re.sub(rb"^(P[1-6]\s+)\d+\s+\d+", rb"\g<1>%d %d" % (w, h), data, count=1)
    if data[:2] == b"#?":
        return re.sub(rb"-Y \d+ \+X \d+", b"-Y %d +X %d" % (h, w), data, count=1)
    if data[:4] == b"II*\x00" and len(data) >= 8:  # ImageWidth, ImageLength of the first IFD
        out = bytearray(data)
        ifd = struct.unpack_from("<I", data, 4)[0]
        if ifd + 2 <= len(data):
            for i in range(struct.unpack_from("<H", data, ifd)[0]):
                at = ifd + 2 + 12 * i
                if at + 12 > len(data):
                    break
                tag = struct.unpack_from("<H", data, at)[0]
                if tag in (256, 257):
                    struct.pack_into("<HHII", out, at, tag, 4, 1, w32 if tag == 256 else h32)
        return bytes(out)
    if data[:4] == b"RIFF" and data[12:16] == b"VP8X" and len(data) >= 30:  # canvas − 1
        size = struct.pack("<II", (w - 1) & 0xFFFFFF, (h - 1) & 0xFFFFFF)
        return data[:24] + size[:3] + size[4:7] + data[30:]
    if data[:4] == b"RIFF" and data[12:16] == b"VP8 " and len(data) >= 30:
        return data[:26] + struct.pack("<HH", w & 0x3FFF, h & 0x3FFF) + data[30:]
    if data[:4] == b"RIFF" and data[12:16] == b"VP8L" and len(data) >= 25:
        bits = struct.unpack_from("<I", data, 21)[0] & ~0xFFFFFFF
        bits |= ((w - 1) & 0x3FFF) | ((h - 1) & 0x3FFF) << 14
        return data[:21] + struct.pack("<I", bits) + data[25:]
    return data


def make_case(seeds: dict[str, bytes], name: str, steps) -> bytes:
    """Apply the mutations ``steps`` (tuples ``(kind, a, b, payload)``) to seed ``name``."""
    data, others = seeds[name], [seeds[k] for k in sorted(seeds)]
    for kind, a, b, payload in steps:
        data = mutate(data, kind, a, b, payload, others)
    return data


def random_steps(rng: random.Random) -> list[tuple]:
    """0 to 3 random mutations (one case in eight keeps the seed as it is)."""
    return [(rng.choice(MUTATIONS), rng.getrandbits(32), rng.getrandbits(32),
             rng.randbytes(rng.randint(1, 16))) for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3, 3)))]


# --- one case ----------------------------------------------------------------------------------

def check(data: bytes, max_pixels: int = MAX_PIXELS) -> str:
    """``load_image(data)``: ``"ok"`` for a valid ``uint8 (H, W, 3)`` C-contiguous array of at
    most ``max_pixels`` pixels, ``"ImageError"``; an invalid array raises AssertionError and any
    other exception propagates."""
    import numpy as np

    from kerasviz import ImageError, load_image

    try:
        img = load_image(data, max_pixels=max_pixels)
    except ImageError:
        return "ImageError"
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 \
        and img.shape[2] == 3 and 1 <= img.shape[0] * img.shape[1] <= max_pixels \
        and img.flags.c_contiguous, f"invalid output: {type(img).__name__} " \
        f"{getattr(img, 'dtype', '')} {getattr(img, 'shape', '')}"
    return "ok"


def _send(stream, obj) -> None:
    blob = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(blob)) + blob)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def worker(max_pixels: int) -> None:
    """Read the warm-up seeds, then cases, from stdin; answer ``(outcome, ru_maxrss in KiB)``.
    The seeds come from the parent so that making them does not raise the baseline."""
    import warnings

    warnings.simplefilter("ignore")  # Pillow warns about odd files; warnings are not failures
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    for data in _recv(inp):
        _outcome(data, max_pixels)
    _send(out, ("ready", _status_kib("VmRSS")))
    while (data := _recv(inp)) is not None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident size, to the current size
        before = _status_kib("VmRSS")
        outcome = _outcome(data, max_pixels)
        _send(out, (outcome, _status_kib("VmHWM") - before))


def _status_kib(field: str) -> int:
    """A size from /proc/self/status, in KiB (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _outcome(data: bytes, max_pixels: int) -> str:
    try:
        return check(data, max_pixels)
    except AssertionError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - every other exception is a finding
        return f"unexpected {type(exc).__name__}: {str(exc)[:160]}"


class Worker:
    """The worker subprocess: ``run(data)`` → ``(outcome, peak KiB)`` within ``timeout`` s."""

    def __init__(self, max_pixels: int, timeout: float, warm_up: list[bytes]):
        self.timeout = timeout
        # glibc keeps freed memory for reuse, which would hide a case's peak; with a fixed mmap
        # threshold every large buffer is its own mapping, given back when it is freed.
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(max_pixels)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     stderr=subprocess.DEVNULL)  # OpenCV's C++ warnings
        _send(self.proc.stdin, warm_up)
        self.baseline = _recv(self.proc.stdout)[1]

    def run(self, data: bytes) -> tuple[str, int]:
        _send(self.proc.stdin, data)
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        reply = _recv(self.proc.stdout) if ready else None
        if reply is None:
            self.close()
            code = self.proc.returncode
            return ("timeout" if not ready else f"crash (exit status {code})"), 0
        return reply

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--save", type=Path, help="folder for the cases that failed")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    seeds, rng = corpus(), random.Random(args.seed)
    names = sorted(seeds)
    counts, by_seed = collections.Counter(), collections.defaultdict(collections.Counter)
    failures, peaks = [], {}  # decoder → (peak KiB, case)
    warm_up = [data for name, data in seeds.items() if not name.startswith("1 Mpx")]
    pool = Worker(args.max_pixels, args.timeout, warm_up)
    baseline, start = pool.baseline, time.time()
    for i in range(args.cases):
        name = rng.choice(names)
        steps = random_steps(rng)
        data = make_case(seeds, name, steps)
        outcome, rss = pool.run(data)
        kind = outcome if outcome in ("ok", "ImageError", "timeout") else outcome.split(":")[0]
        counts[kind] += 1
        by_seed[name][kind if kind in ("ok", "ImageError") else "failed"] += 1
        decoder = "OpenCV" if "(OpenCV)" in name else "Pillow"
        rss -= len(data) // 1024  # a decoder may hold a copy of the file (Pillow's WebP does)
        if rss > peaks.get(decoder, (0,))[0]:
            peaks[decoder] = rss, f"case {i} ({name}, {[s[0] for s in steps]})"
        if kind not in ("ok", "ImageError"):
            failures.append((i, name, steps, outcome))
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"case{i:06d}.bin").write_bytes(data)
            if pool.proc.poll() is not None:
                pool = Worker(args.max_pixels, args.timeout, warm_up)
    pool.close()
    took = time.time() - start
    print(f"{args.cases} cases (seed {args.seed}, {len(seeds)} seed files, max_pixels="
          f"{args.max_pixels}) in {took:.0f} s")
    print("| outcome | cases |\n|---|---:|")
    for kind in ("ok", "ImageError", "timeout"):
        print(f"| {kind} | {counts.pop(kind, 0)} |")
    for kind, c in sorted(counts.items()):
        print(f"| {kind} | {c} |")
    if not counts:
        print("| unexpected exception, invalid output or crash | 0 |")
    over = False
    for decoder, (peak, case) in sorted(peaks.items()):
        bound = BYTES_PER_PIXEL[decoder] * args.max_pixels / 1024
        over |= peak > bound
        print(f"largest peak memory of one case beyond its file's size, {decoder} seeds: "
              f"{peak / 1024:.1f} MiB (bound "
              f"{BYTES_PER_PIXEL[decoder]} bytes per pixel of max_pixels = {bound / 1024:.1f} "
              f"MiB), at {case}")
    print(f"worker at rest: {baseline / 1024:.0f} MiB")
    print("per seed (ok / ImageError / failed): " + "; ".join(
        f"{n} {c['ok']}/{c['ImageError']}/{c['failed']}" for n, c in sorted(by_seed.items())))
    for i, name, steps, outcome in failures[:20]:
        print(f"FAILED case {i}: {name} {steps}: {outcome}")
    return 1 if failures or over else 0


if __name__ == "__main__":
    sys.exit(main())
