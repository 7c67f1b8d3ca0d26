"""Serving media files: single HTTP ranges (206/416), HEAD, and cached WAV/MP3 transcodes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..errors import AntiphonError

__all__ = ["serve_file", "transcoded", "RangeNotSatisfiable"]

CHUNK = 1 << 16
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class RangeNotSatisfiable(AntiphonError):
    status = 416


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` for one ``bytes=`` range; ``None`` to ignore the header (several ranges,
    unknown unit); raises :class:`RangeNotSatisfiable` for a range outside the file."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise RangeNotSatisfiable(f"range {header!r} asks for no bytes")
            return max(0, size - n), size - 1
        a = int(first)
        b = int(last) if last else size - 1
    except ValueError:
        return None
    if a < 0 or (last and a > b):
        return None
    if a >= size:
        raise RangeNotSatisfiable(f"range {header!r} starts after the end of the file ({size} bytes)")
    return a, min(b, size - 1)


def _iter(path: Path, start: int, length: int):
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def serve_file(request: Request, path: Path, media_type: str, filename: str | None = None) -> Response:
    st = path.stat()
    size = st.st_size
    etag = f'"{st.st_mtime_ns:x}-{size:x}"'
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, max-age=3600"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    rng = request.headers.get("range")
    if rng and request.headers.get("if-range") not in (None, etag):
        rng = None
    span = None
    if rng:
        try:
            span = _parse_range(rng, size)
        except RangeNotSatisfiable as exc:
            body = exc.to_dict()
            import json

            return Response(json.dumps(body), status_code=416, media_type="application/json",
                            headers={**headers, "Content-Range": f"bytes */{size}"})
    if span is None:
        start, length, status = 0, size, 200
    else:
        start, length, status = span[0], span[1] - span[0] + 1, 206
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(_iter(path, start, length), status_code=status, headers=headers, media_type=media_type)


def transcoded(src: Path, derived_dir: Path, sha256: str, fmt: str) -> Path:
    """``src`` as ``fmt`` ("wav": PCM 16-bit, "mp3"), made once and cached under ``derived_dir``."""
    import soundfile as sf

    derived_dir.mkdir(parents=True, exist_ok=True)
    dest = derived_dir / f"{sha256}.{fmt}"
    if dest.exists():
        return dest
    with _locks_guard:
        lock = _locks.setdefault(str(dest), threading.Lock())
    with lock:
        if dest.exists():
            return dest
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            with sf.SoundFile(str(src)) as fin:
                if fmt == "mp3":
                    out = sf.SoundFile(str(tmp), "w", samplerate=fin.samplerate, channels=fin.channels,
                                       format="MP3", subtype="MPEG_LAYER_III")
                else:
                    out = sf.SoundFile(str(tmp), "w", samplerate=fin.samplerate, channels=fin.channels,
                                       format="WAV", subtype="PCM_16")
                with out:
                    for block in fin.blocks(blocksize=fin.samplerate * 10, dtype="float32", always_2d=True):
                        out.write(block)
            os.replace(tmp, dest)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise AntiphonError(f"cannot convert the recording to {fmt}: {exc}") from None
    return dest
