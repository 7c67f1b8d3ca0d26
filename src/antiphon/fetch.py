"""Downloading recordings from Twilio (or any HTTP server) safely.

:func:`download` streams a media URL to a temporary file with HTTP Basic
auth, timeouts, redirects (credentials are not sent to another host, e.g.
the storage a Twilio media URL redirects to), and retries with exponential
backoff on network errors, 429 and 5xx. A download that ends early (fewer
bytes than ``Content-Length``, or a WAV whose data chunk is cut short) is an
error and retried, never analysed.

Errors are :class:`DownloadError` with ``retryable`` saying whether a later
attempt may succeed (a 404 may be a recording Twilio has not finished yet;
a 401 is a wrong Auth Token and is not retried).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import AntiphonError, MissingDependency

__all__ = ["DownloadError", "DownloadOptions", "Downloaded", "download", "check_wav"]


class DownloadError(AntiphonError):
    status = 502

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class DownloadOptions:
    """How to download.

    timeout: seconds to connect and between received bytes.
    retries: attempts in all (>= 1); backoff: first wait in seconds, doubled each retry.
    max_bytes: refuse larger files.
    auth: ``(user, password)`` for HTTP Basic, or ``None``.
    """

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    max_bytes: int = 2 * 1024**3
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    size: int
    content_type: str | None
    url: str  # final URL after redirects, without query string


def _redact(url: str) -> str:
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return f"{p.scheme}://{host}{p.path}"


def check_wav(path: Path) -> None:
    """Raise :class:`DownloadError` if a RIFF/WAVE file's data chunk is shorter than its header says."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            ck = f.read(8)
            if len(ck) < 8:
                break
            cid, clen = ck[:4], struct.unpack("<I", ck[4:])[0]
            if cid == b"data":
                if clen not in (0, 0xFFFFFFFF) and pos + 8 + clen > size:
                    raise DownloadError(
                        f"truncated WAV: the data chunk declares {clen} bytes but only "
                        f"{size - pos - 8} arrived")
                return
            pos += 8 + clen + (clen & 1)
        raise DownloadError("truncated WAV: no data chunk before the end of the file")


def _wanted_url(url: str) -> str:
    """Twilio media URLs without a suffix are fetched as ``.wav`` (lossless, both channels)."""
    p = urlsplit(url)
    if p.hostname and p.hostname.endswith("twilio.com") and "/Recordings/" in p.path:
        last = p.path.rsplit("/", 1)[-1]
        if "." not in last:
            return url.replace(p.path, p.path + ".wav", 1)
    return url


def download(url: str, dest_dir: str | os.PathLike, options: DownloadOptions | None = None,
             *, sleep=time.sleep) -> Downloaded:
    """Download ``url`` into a new file in ``dest_dir``; the caller moves or deletes it."""
    try:
        import httpx
    except ModuleNotFoundError as exc:
        raise MissingDependency("Downloading recordings", "server") from exc
    o = options or DownloadOptions()
    url = _wanted_url(url)
    last: DownloadError | None = None
    for attempt in range(1, max(1, o.retries) + 1):
        try:
            return _attempt(httpx, url, Path(dest_dir), o)
        except DownloadError as exc:
            last = exc
            if not exc.retryable or attempt == o.retries:
                break
            sleep(o.backoff * 2 ** (attempt - 1))
    assert last is not None
    if last.retryable and o.retries > 1:
        last.message = f"{last.message} (after {o.retries} attempts)"
        last.args = (last.message,)
    raise last


def _attempt(httpx, url: str, dest_dir: Path, o: DownloadOptions) -> Downloaded:
    import tempfile

    timeout = httpx.Timeout(o.timeout, connect=o.timeout)
    fd, name = tempfile.mkstemp(dir=dest_dir, suffix=".part")
    tmp = Path(name)
    h = hashlib.sha256()
    size = 0
    where = _redact(url)
    ok = False
    expected: int | None = None
    try:
        with os.fdopen(fd, "wb") as out, httpx.Client(timeout=timeout, follow_redirects=True,
                                                      auth=o.auth, max_redirects=10) as client:
            try:
                with client.stream("GET", url, headers={"Accept": "audio/*, */*"}) as r:
                    where = _redact(str(r.url))
                    if r.status_code in (401, 403):
                        hint = ("check ANTIPHON_TWILIO_ACCOUNT_SID/ANTIPHON_TWILIO_AUTH_TOKEN (or the API key)"
                                if o.auth else "no credentials were sent to this host: add it to "
                                "ANTIPHON_MEDIA_AUTH_HOSTS if it should get the Twilio credentials")
                        raise DownloadError(f"{where}: HTTP {r.status_code}: the media server refused the "
                                            f"request; {hint}", retryable=False)
                    if r.status_code == 404:
                        raise DownloadError(f"{where}: HTTP 404: no such recording (yet)")
                    if r.status_code == 429 or r.status_code >= 500:
                        raise DownloadError(f"{where}: HTTP {r.status_code}: server busy or failing")
                    if r.status_code != 200:
                        raise DownloadError(f"{where}: HTTP {r.status_code}", retryable=False)
                    declared = r.headers.get("content-length")
                    expected = int(declared) if declared and declared.isdigit() else None
                    if expected is not None and expected > o.max_bytes:
                        raise DownloadError(f"{where}: {expected} bytes is more than the limit of {o.max_bytes}",
                                            retryable=False)
                    for chunk in r.iter_raw(1 << 16):
                        size += len(chunk)
                        if size > o.max_bytes:
                            raise DownloadError(f"{where}: more than the limit of {o.max_bytes} bytes",
                                                retryable=False)
                        h.update(chunk)
                        out.write(chunk)
                    if expected is not None and size != expected:
                        raise DownloadError(f"{where}: truncated download: {size} of {expected} bytes arrived")
                    ctype = r.headers.get("content-type")
            except httpx.TimeoutException:
                raise DownloadError(f"{where}: timed out after {o.timeout:g} s") from None
            except (httpx.TransportError, httpx.StreamError) as exc:
                if expected is not None and 0 < size < expected:
                    raise DownloadError(f"{where}: truncated download: the connection closed after {size} "
                                        f"of {expected} bytes") from None
                raise DownloadError(f"{where}: connection failed: {type(exc).__name__}: "
                                    f"{str(exc) or 'incomplete response'}") from None
            except httpx.TooManyRedirects:
                raise DownloadError(f"{where}: too many redirects", retryable=False) from None
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise DownloadError(f"{where}: empty response")
        check_wav(tmp)
        ok = True
        return Downloaded(tmp, h.hexdigest(), size, ctype, where)
    finally:
        if not ok:
            tmp.unlink(missing_ok=True)
