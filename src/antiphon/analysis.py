"""The pipeline in one call: audio -> voice activity -> timelines -> metrics.

:func:`analyze` reads one dual-channel recording once, finds each party's
speech, measures the whole call and each of its segments (transfers), and
returns an :class:`Analysis` whose :meth:`Analysis.to_dict` is the stable,
documented JSON of ``antiphon analyze --json`` (``docs/analysis-json.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from .audio import AudioInfo
from .errors import AntiphonError, MetadataError
from .timeline import Timeline

__all__ = ["Analysis", "AnalysisOptions", "analyze", "analyze_many", "SCHEMA"]

#: Version tag of the analysis JSON; bumped on any incompatible change.
SCHEMA = "antiphon.analysis/1"

PARTIES = ("customer", "agent")


def _vad_options():
    from .vad import VadOptions

    return VadOptions()


def _metric_options():
    from .metrics import MetricOptions

    return MetricOptions()


@dataclass
class AnalysisOptions:
    """Everything :func:`analyze` can be tuned with.

    vad:
        :class:`antiphon.vad.VadOptions`: speech thresholds, minimum speech and
        silence durations, padding, cross-channel bleed margin.
    metrics:
        :class:`antiphon.metrics.MetricOptions`: turn gap, backchannel length,
        long-silence threshold.
    """

    vad: Any = field(default_factory=_vad_options)
    metrics: Any = field(default_factory=_metric_options)


@dataclass
class Analysis:
    """The result of analysing one recording."""

    info: AudioInfo
    roles: tuple[str, str]  # party per channel index
    speech: dict[str, Timeline]  # party -> speech timeline (seconds)
    metrics: dict
    segments: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    start_time: datetime | None = None
    media_url: str | None = None
    transcript: Any = None  # antiphon.transcribe.Transcript when transcribed
    rules_result: dict | None = None

    def channel_of(self, party: str) -> int:
        return self.roles.index(party)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "recording": {
                "path": self.info.path,
                "duration": round(self.info.duration, 3),
                "sample_rate": self.info.sample_rate,
                "format": self.info.format,
                "subtype": self.info.subtype,
                "channels": self.info.channels,
                "channel_roles": list(self.roles),
                "start_time": _iso(self.start_time),
                "url": self.media_url,
            },
            "speech": {p: self.speech[p].to_list() for p in PARTIES},
            "metrics": self.metrics,
            "segments": self.segments,
            "warnings": self.warnings,
            "diagnostics": self.diagnostics,
        }
        if self.transcript is not None:
            out["transcript"] = self.transcript.to_dict()
        if self.rules_result is not None:
            out.update(self.rules_result)
        return out


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.isoformat().replace("+00:00", "Z")


def _resolve_roles(channels, media) -> tuple[str, str]:
    from . import flex

    if channels is not None:
        return flex.channel_roles(flex.parse_channels(channels, field="--channels"))
    if media is not None:
        return media.roles()
    return ("customer", "agent")


def _load(value, loader_path, loader_data):
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return loader_path(value)
    if isinstance(value, (dict, bytes)):
        return loader_data(value)
    return value


def analyze(
    path: str | os.PathLike,
    *,
    channels: str | tuple[str, str] | list[str] | None = None,
    task=None,
    conversation=None,
    options: AnalysisOptions | None = None,
    transcribe=None,
    rules=None,
) -> Analysis:
    """Analyse one dual-channel recording.

    path:
        The recording (WAV/FLAC/MP3/OGG, two channels, 8-48 kHz).
    channels:
        Party per channel, e.g. ``"agent,customer"``; overrides metadata.
        Default: customer on channel 1 (left), as Flex records.
    task:
        Flex task attributes (a path, a dict or a parsed
        :class:`antiphon.flex.TaskAttributes`): its media entry gives the
        channel order and the recording's start time.
    conversation:
        A conversation (path, dict or :class:`antiphon.flex.Conversation`):
        the recording's media entry and its segments (transfers); metrics are
        computed for each segment's window of the recording.
    transcribe:
        ``True`` or a :class:`antiphon.transcribe.TranscribeOptions` to add a
        per-channel transcript (needs the ``transcribe`` extra).
    rules:
        A rules file path or a loaded rule set: categories and keyword hits.
    """
    from . import flex
    from .metrics import compute_metrics
    from .vad import detect_speech

    options = options or AnalysisOptions()
    task_attrs = _load(task, flex.load_task_attributes, flex.parse_task_attributes)
    conv = _load(conversation, flex.load_conversation, flex.parse_conversation)

    media = None
    if conv is not None:
        media = conv.recording
    elif task_attrs is not None:
        media = task_attrs.recording
        if media is None:
            raise MetadataError(
                "the task attributes hold no VoiceRecording media entry",
                [],
            )
    roles = _resolve_roles(channels, media)

    activity = detect_speech(path, options.vad)
    info = activity.info
    speech = {roles[0]: activity.speech[0], roles[1]: activity.speech[1]}
    window = (0.0, info.duration)
    metrics = compute_metrics(speech["customer"], speech["agent"], window, options.metrics)

    warnings: list[str] = []
    sim = activity.similarity or {}
    if sim.get("identical"):
        warnings.append(
            "both channels carry the same signal (correlation "
            f"{sim.get('correlation')}): this looks like a mono recording duplicated into "
            "stereo; per-party metrics (customer vs agent talk, crosstalk, interruptions) "
            "are meaningless for it"
        )
    for ch in sim.get("silent_channels", []):
        warnings.append(f"channel {ch + 1} ({roles[ch]}) is digitally silent for the whole recording")
    for party in PARTIES:
        if not speech[party] and info.duration > 0:
            ch = roles.index(party) + 1
            warnings.append(f"no {party} speech found on channel {ch}; check the channel order")

    start_time = media.start_time if media is not None else None
    segments: list[dict] = []
    if conv is not None:
        if start_time is None:
            raise MetadataError(
                "the conversation's recording has no start_time, so segment offsets cannot be computed",
                [],
            )
        for sw in flex.segment_windows(start_time, info.duration, conv.segments):
            d = sw.to_dict()
            d["metrics"] = (
                compute_metrics(speech["customer"], speech["agent"], sw.window, options.metrics)
                if sw.window is not None
                else None
            )
            if sw.note:
                warnings.append(f"segment {d.get('reservation_sid') or d.get('task_sid') or len(segments) + 1}: {sw.note}")
            segments.append(d)

    analysis = Analysis(
        info=info,
        roles=roles,
        speech=speech,
        metrics=metrics,
        segments=segments,
        warnings=warnings,
        diagnostics={"vad": activity.diagnostics, "channel_similarity": sim},
        start_time=start_time,
        media_url=media.url if media is not None else None,
    )

    if transcribe:
        from . import transcribe as tr

        topts = transcribe if isinstance(transcribe, tr.TranscribeOptions) else tr.TranscribeOptions()
        analysis.transcript = tr.transcribe(
            path, speech, {p: analysis.channel_of(p) for p in PARTIES}, topts
        )
        for w in tr.check_roles(analysis.transcript):
            if w not in warnings:
                warnings.append(w)

    if rules is not None:
        from . import rules as rl

        ruleset = rl.load_rules(rules) if isinstance(rules, (str, os.PathLike)) else rules
        analysis.rules_result = rl.evaluate(ruleset, analysis.to_dict())

    return analysis


def analyze_many(paths, *, task=None, conversation=None, **kwargs):
    """Yield ``(path, Analysis | AntiphonError)`` for each path, never stopping on one bad file.

    Task attributes and conversations are loaded once (errors in them are
    raised before any file is read, since they would fail every file).
    """
    from . import flex

    task = _load(task, flex.load_task_attributes, flex.parse_task_attributes)
    conversation = _load(conversation, flex.load_conversation, flex.parse_conversation)
    for p in paths:
        try:
            yield p, analyze(p, task=task, conversation=conversation, **kwargs)
        except AntiphonError as exc:
            yield p, exc
