"""Antiphon: analytics for dual-channel call recordings.

The pipeline, one module a stage::

    audio -> vad -> timeline -> metrics -> (store -> web)

The public API is what ``__all__`` lists; everything else may change.
"""

from __future__ import annotations

from .audio import AudioInfo, probe
from .errors import AntiphonError, AudioError, MetadataError, MissingDependency, Problem
from .timeline import Timeline

__version__ = "0.1.0"

__all__ = [
    "AntiphonError",
    "AudioError",
    "AudioInfo",
    "MetadataError",
    "MissingDependency",
    "Problem",
    "Timeline",
    "probe",
    "__version__",
]
