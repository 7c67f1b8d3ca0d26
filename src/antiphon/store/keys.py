"""API key secrets: generated with ``secrets``, stored as salted scrypt hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["new_key_id", "new_secret", "hash_secret", "verify_secret"]

# scrypt cost: ~16 MiB and a few milliseconds per check.
_N, _R, _P = 2**14, 8, 1


def new_key_id() -> str:
    """A public key id, the HTTP Basic user name: ``AK`` + 32 hex digits."""
    return "AK" + secrets.token_hex(16)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a :func:`hash_secret` value."""
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)
