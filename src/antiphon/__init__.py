"""Antiphon: analytics for dual-channel call recordings.

The pipeline, one module a stage::

    audio -> vad -> timeline -> metrics -> (store -> web)

The public API is what ``__all__`` lists; everything else may change.
"""

from __future__ import annotations

from .analysis import Analysis, AnalysisOptions, analyze, analyze_many
from .audio import AudioInfo, probe
from .errors import AntiphonError, AudioError, MetadataError, MissingDependency, Problem
from .flex import (
    Conversation,
    Media,
    Segment,
    SegmentWindow,
    TaskAttributes,
    channel_roles,
    load_conversation,
    load_task_attributes,
    parse_channels,
    parse_conversation,
    parse_task_attributes,
    parse_time,
    segment_windows,
    validate_task_attributes,
)
from .metrics import MetricOptions, compute_metrics, format_metrics
from .timeline import Timeline
from .vad import VadOptions, VoiceActivity, detect_speech

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "AnalysisOptions",
    "AntiphonError",
    "AudioError",
    "AudioInfo",
    "Conversation",
    "Media",
    "MetadataError",
    "MetricOptions",
    "MissingDependency",
    "Problem",
    "Segment",
    "SegmentWindow",
    "TaskAttributes",
    "Timeline",
    "VadOptions",
    "VoiceActivity",
    "analyze",
    "analyze_many",
    "channel_roles",
    "compute_metrics",
    "detect_speech",
    "format_metrics",
    "load_conversation",
    "load_task_attributes",
    "parse_channels",
    "parse_conversation",
    "parse_task_attributes",
    "parse_time",
    "probe",
    "segment_windows",
    "validate_task_attributes",
    "__version__",
]
