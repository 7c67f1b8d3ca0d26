"""The HTTP service (FastAPI): Twilio webhooks, uploads, the JSON API,
Twilio-compatible recording media and, when present, the web pages.

>>> from antiphon.server import create_app        # doctest: +SKIP
>>> app = create_app()                             # settings from the environment
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints are documented in ``docs/service.md`` and served as OpenAPI at
``/openapi.json``.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    from ..errors import MissingDependency

    raise MissingDependency("The HTTP service", "server") from exc

from .app import create_app
from .run import serve
from .signature import compute_signature, public_url, valid_signature

__all__ = ["create_app", "serve", "compute_signature", "valid_signature", "public_url"]
