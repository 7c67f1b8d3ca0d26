"""One error family for the whole library.

Every error Antiphon raises on bad input is an :class:`AntiphonError`. It
carries a human message and, where input was validated, a list of
``{"path": ..., "message": ...}`` problems, so the CLI and the HTTP API can
render the same shape: ``{"ok": false, "error": ..., "errors": [...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AntiphonError",
    "AudioError",
    "MetadataError",
    "MissingDependency",
    "Problem",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by a field path (``media[0].type``)."""

    path: str
    message: str

    def __str__(self) -> str:  # "media[0].type must be ..." reads as one sentence
        if self.message.startswith(self.path):
            return self.message
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict:
        return {"path": self.path, "message": str(self)}


class AntiphonError(Exception):
    """Base class: bad input or a missing part, never a bug.

    ``problems`` lists every problem found (validation reports all at once).
    """

    status = 400

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])

    def to_dict(self) -> dict:
        return {
            "ok": False,
            "error": self.message,
            "errors": [p.to_dict() for p in self.problems],
            "status": self.status,
        }


class AudioError(AntiphonError):
    """A recording that cannot be read or is not a usable dual-channel call."""

    status = 422


class MetadataError(AntiphonError):
    """Contact-center metadata (Flex task attributes, segments) that is wrong."""

    status = 422


# What the ``server`` extra brings that the service, the store and the demo import.
SERVER_MODULES = ("fastapi", "sqlalchemy", "uvicorn")


class MissingDependency(AntiphonError):
    """An optional extra is not installed; the message says how to install it."""

    status = 501

    def __init__(self, what: str, extra: str):
        super().__init__(
            f"{what} needs the optional '{extra}' extra: pip install 'antiphon[{extra}]'"
        )
        self.extra = extra

    @classmethod
    def require(cls, modules: tuple[str, ...], what: str, extra: str) -> None:
        """Raise this error, naming the extra to install, unless every module imports."""
        import importlib

        for name in modules:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError:
                raise cls(what, extra) from None


@dataclass
class Warnings:
    """Collects human-readable warnings during an analysis."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)
