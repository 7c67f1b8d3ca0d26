"""The web player and historical reports.

Server-rendered pages over the conversation store, each also served as JSON::

    /conversations            list with filters, sort, pagination (.json, .csv)
    /conversations/{id}       segments, Flex metrics, hits and the player (.json)
    /conversations/{id}/peaks.json   waveform peaks, computed once and cached
    /reports                  aggregates per agent, queue or day (.json, .csv)

Mount them on a FastAPI app::

    from antiphon.web import mount
    mount(app, store)                 # a SQL store (antiphon.store) or any Source

or serve analyses without a database::

    from antiphon.web import from_analyses
    app = FastAPI(); mount(app, from_analyses([...]))
"""

from __future__ import annotations

from typing import Any

from .pages import DEFAULT_COLOURS, STATIC_PREFIX, WebConfig, create_router
from .source import ListQuery, MemorySource, Page, ReportQuery, Source

__all__ = [
    "DEFAULT_COLOURS",
    "ListQuery",
    "MemorySource",
    "Page",
    "ReportQuery",
    "Source",
    "WebConfig",
    "contrast_ratio",
    "create_router",
    "from_analyses",
    "mount",
]


def _as_source(store: Any, config: WebConfig):
    if hasattr(store, "list_conversations") and hasattr(store, "facets") and hasattr(store, "report") \
            and isinstance(getattr(store, "long_silence", None), (int, float)):
        return store  # already a web Source
    from .storesource import StoreSource

    return StoreSource(store, long_silence=config.long_silence)


def mount(app, store, config: WebConfig | None = None, *, media_url=None) -> None:
    """Add the pages and their static files (``/-/static``) to ``app``.

    ``store``: an :class:`antiphon.store.Store` or any :class:`Source`.
    ``media_url``: optional ``f(conversation) -> url`` for the audio; by
    default the store's Twilio-style recording URL (same origin, so the
    browser's auth session applies).
    """
    from fastapi.staticfiles import StaticFiles

    from .pages import HERE

    config = config or WebConfig.from_env()
    if config.peaks_cache_dir is None and getattr(store, "data_dir", None) is not None:
        config.peaks_cache_dir = str(store.data_dir / "peaks")  # beside the database, not in media/
    source = _as_source(store, config)
    app.include_router(create_router(source, config, media_url=media_url))
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(HERE / "static")), name="antiphon-static")
    app.state.antiphon_web = source


def from_analyses(items, *, long_silence: float = 5.0) -> MemorySource:
    """A :class:`MemorySource` from ``[{"id", "analysis", "recording_path", "media_url", ...}]``."""
    return MemorySource(conversations=list(items), long_silence=long_silence)


def _luminance(colour: str) -> float:
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    rgb = [int(c[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
