"""Twilio webhook signatures (``X-Twilio-Signature``).

Twilio signs a form POST with HMAC-SHA1, keyed with the account's Auth
Token, over the full URL it called followed by every POST parameter name and
value in sorted order, base64-encoded. Behind a proxy the URL the service
sees differs from the one Twilio called, so :func:`public_url` rebuilds it
from the configured public base URL or the ``X-Forwarded-Proto`` /
``X-Forwarded-Host`` headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["compute_signature", "valid_signature", "public_url"]


def compute_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The signature Twilio sends for a POST of ``params`` to ``url``."""
    grouped: dict[str, list[str]] = {}
    for k, v in params:
        grouped.setdefault(k, []).append(v)
    data = url
    for k in sorted(grouped):
        for v in sorted(set(grouped[k])):
            data += k + v
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed (Twilio signs either form)."""
    p = urlsplit(url)
    out = [url]
    default = {"https": 443, "http": 80}.get(p.scheme)
    host = p.hostname or ""
    if p.port is None and default:
        out.append(urlunsplit((p.scheme, f"{host}:{default}", p.path, p.query, p.fragment)))
    elif p.port == default:
        out.append(urlunsplit((p.scheme, host, p.path, p.query, p.fragment)))
    return out


def valid_signature(url: str, params: list[tuple[str, str]], signature: str | None, auth_token: str) -> bool:
    if not signature or not auth_token:
        return False
    for candidate in _port_variants(url):
        if hmac.compare_digest(compute_signature(candidate, params, auth_token), signature):
            return True
    return False


def public_url(request, base: str | None) -> str:
    """The URL Twilio called for ``request``.

    ``base`` (the ``public_url`` setting, e.g. ``https://calls.example.com``
    or ``https://example.com/antiphon``) wins; otherwise the scheme and host
    come from ``X-Forwarded-Proto``/``X-Forwarded-Host`` when a proxy set
    them, else from the request.
    """
    path = request.url.path
    qs = request.scope.get("query_string", b"").decode("latin-1")
    tail = path + (f"?{qs}" if qs else "")
    if base:
        return base.rstrip("/") + tail
    h = request.headers
    scheme = (h.get("x-forwarded-proto") or request.url.scheme).split(",")[0].strip()
    host = (h.get("x-forwarded-host") or h.get("host") or request.url.netloc).split(",")[0].strip()
    return f"{scheme}://{host}{tail}"
