"""Twilio Flex media metadata: task attributes, channel roles and segment offsets.

Flex links a call recording to a conversation through TaskRouter task
attributes (the Flex Insights "custom media" convention)::

    {"conversations": {"conversation_id": "WT...",
                       "media": [{"url": "https://api.twilio.com/.../Recordings/RE...",
                                  "type": "VoiceRecording",
                                  "start_time": "2026-11-02T15:04:05.000Z",
                                  "channels": ["customer", "others"]}]},
     "reservation_attributes": {"WR...": {"media": [...]}}}

Reservation-level media overrides task-level media. ``channels`` says which
party is on which channel of the dual-channel recording: ``customer`` is the
customer, ``others`` (also ``agent`` or ``worker``) the agent side.

:func:`parse_task_attributes` turns such a payload into :class:`TaskAttributes`
and raises one :class:`~antiphon.errors.MetadataError` listing every problem
(each with a field path and the fix). :func:`segment_windows` places the
wall-clock segments of a transferred call inside one recording, in seconds.

Everything here is pure: no network, no file access except the ``load_*``
functions, so the webhook code can call it on a ``TaskAttributes`` form field.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from .errors import MetadataError, Problem

__all__ = [
    "AGENT_CHANNEL_NAMES",
    "CUSTOMER_CHANNEL_NAMES",
    "DEFAULT_CHANNELS",
    "Conversation",
    "Media",
    "Segment",
    "SegmentWindow",
    "TaskAttributes",
    "TwilioRecording",
    "ValidationResult",
    "channel_roles",
    "load_conversation",
    "load_task_attributes",
    "parse_channels",
    "parse_conversation",
    "parse_recording",
    "parse_task_attributes",
    "parse_time",
    "segment_windows",
    "validate_file",
    "validate_task_attributes",
]

VOICE_RECORDING = "VoiceRecording"
#: Other Flex Insights media link types: allowed in ``media`` but not analysed.
OTHER_MEDIA_TYPES = ("Raw", "Referenced", "Embedded", "ChatTranscript")

DEFAULT_CHANNELS: tuple[str, str] = ("customer", "others")
#: Channel names for the customer side.
CUSTOMER_CHANNEL_NAMES = ("customer",)
#: Channel names for the agent side (Flex writes ``others``: the agent, a
#: second agent after a transfer, hold music; everything but the customer).
AGENT_CHANNEL_NAMES = ("others", "agent", "worker")

_EXAMPLE_CHANNELS = '["customer", "others"]'
_EXAMPLE_TIME = '"2026-11-02T15:04:05Z" or 1793631845000'
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_DATE_ONLY = re.compile(r"(19|20)\d{2}-?\d{2}-?\d{2}")
_NUMERIC = re.compile(r"[+-]?\d+(\.\d+)?")
_ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")
# Epoch milliseconds below this are before 1973-03-03: almost surely seconds.
_MIN_EPOCH_MS = 100_000_000_000
#: Segment ends within this many seconds past the recording are clipped
#: without a note (Twilio reports times and durations in whole seconds).
CLIP_TOLERANCE_S = 1.0


# --------------------------------------------------------------------- times


class _TimeError(ValueError):
    pass


def _time_or_error(value: Any, path: str) -> datetime:
    """Parse ``value`` or raise _TimeError with a message starting with ``path``."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _TimeError(f"{path} is empty: use ISO 8601 or epoch milliseconds, e.g. {_EXAMPLE_TIME}")
    if isinstance(value, bool):
        raise _TimeError(f"{path} must be a time, not {json.dumps(value)}: use e.g. {_EXAMPLE_TIME}")
    if isinstance(value, str):
        text = value.strip()
        templates = _TEMPLATE.findall(text)
        if templates:
            raise _TimeError(_template_message(path, templates[0]))
        if _DATE_ONLY.fullmatch(text):
            raise _TimeError(
                f"{path} {json.dumps(value)} is a date without a time of day: "
                f'use e.g. "2026-11-02T15:04:05Z"'
            )
        if _NUMERIC.fullmatch(text):
            return _from_epoch_ms(float(text), path, value)
        reason = ""
        try:
            parsed = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"
        except ValueError as exc:
            parsed = None
            if _ISO_LIKE.match(text):
                reason = f" ({exc})"
        if parsed is None:
            try:  # RFC 2822, as Twilio's REST API and status callbacks write it
                parsed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                parsed = None
        if parsed is None:
            raise _TimeError(
                f"{path} is neither ISO 8601 nor epoch milliseconds (nor an RFC 2822 date): "
                f"got {json.dumps(value)}{reason}; use e.g. {_EXAMPLE_TIME}"
            )
        if parsed.tzinfo is None:  # no offset given: Twilio times are UTC
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    if isinstance(value, (int, float)):
        return _from_epoch_ms(float(value), path, value)
    raise _TimeError(
        f"{path} is neither ISO 8601 nor epoch milliseconds: got a {type(value).__name__}; "
        f"use e.g. {_EXAMPLE_TIME}"
    )


def _from_epoch_ms(ms: float, path: str, original: Any) -> datetime:
    if not math.isfinite(ms):
        raise _TimeError(f"{path} is not a finite number: use e.g. {_EXAMPLE_TIME}")
    if abs(ms) < _MIN_EPOCH_MS:
        raise _TimeError(
            f"{path} {original} looks like epoch seconds; Flex expects epoch milliseconds "
            f"({int(ms * 1000)}) or ISO 8601"
        )
    try:
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    except OverflowError:
        raise _TimeError(f"{path} {original} is out of range for epoch milliseconds") from None


def parse_time(value: Any, *, field: str = "time") -> datetime:
    """Parse a Flex / Twilio time into an aware UTC :class:`datetime`.

    Accepts ISO 8601 (``Z``, ``+02:00`` offsets, fractional seconds; no offset
    means UTC), epoch milliseconds (int, float or numeric string) and RFC 2822
    (``"Mon, 02 Nov 2026 15:04:05 +0000"``, Twilio's REST API and
    ``RecordingStartTime``). Raises :class:`MetadataError` naming ``field``.
    """
    try:
        return _time_or_error(value, field)
    except _TimeError as exc:
        raise MetadataError(str(exc), [Problem(field, str(exc))]) from None


def format_time(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; milliseconds only when present."""
    if dt is None:
        return None
    dt = dt.astimezone(timezone.utc)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# ------------------------------------------------------------------ channels


def _channel_role(name: str) -> str | None:
    if name in CUSTOMER_CHANNEL_NAMES:
        return "customer"
    if name in AGENT_CHANNEL_NAMES:
        return "agent"
    return None


def _channel_problems(value: Any, path: str) -> tuple[tuple[str, ...] | None, list[Problem]]:
    """Normalise a channels list; return (names, problems)."""
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return None, [Problem(path, f"{path} must be a list of two channel names, e.g. {_EXAMPLE_CHANNELS}")]
    problems: list[Problem] = []
    names: list[str] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        if not isinstance(item, str):
            problems.append(Problem(item_path, f"{item_path} must be a channel name string, e.g. \"customer\""))
            continue
        templates = _TEMPLATE.findall(item)
        if templates:
            problems.append(Problem(item_path, _template_message(item_path, templates[0])))
            continue
        name = item.strip().lower()
        if _channel_role(name) is None:
            problems.append(Problem(
                item_path,
                f"{item_path} {json.dumps(item)} is not a channel name: use \"customer\" for the customer "
                f"or \"others\" for the agent side (also accepted: \"agent\", \"worker\")",
            ))
        names.append(name)
    if problems:
        return None, problems
    shown = json.dumps(list(items))
    if len(names) != 2:
        return None, [Problem(
            path,
            f"{path} must name two distinct channels, e.g. {_EXAMPLE_CHANNELS} "
            f"(got {len(names)}: {shown}; a dual-channel recording has channel 1 and channel 2)",
        )]
    roles = [_channel_role(n) for n in names]
    if roles[0] == roles[1]:
        side = "the customer" if roles[0] == "customer" else "the agent side"
        return None, [Problem(
            path,
            f"{path} must name two distinct channels, e.g. {_EXAMPLE_CHANNELS} "
            f"(got {shown}: both name {side}; one channel is the customer, the other \"others\")",
        )]
    return tuple(names), []


def parse_channels(spec: str | Iterable[str], *, field: str = "channels") -> tuple[str, str]:
    """Parse a channel order such as ``"agent,customer"`` or ``["customer", "others"]``.

    Returns the two names, lower-cased, in channel order (channel 1 first).
    ``customer`` is the customer; ``others``, ``agent`` and ``worker`` all mean
    the agent side. Raises :class:`MetadataError` for anything else, for one
    name, or for two names of the same side. See :func:`channel_roles`.
    """
    if not isinstance(spec, str):
        spec = list(spec) if isinstance(spec, Iterable) else spec
    names, problems = _channel_problems(spec, field)
    if problems:
        raise MetadataError(_summary("invalid channel order", problems), problems)
    assert names is not None
    return names[0], names[1]


def channel_roles(channels: Iterable[str] = DEFAULT_CHANNELS) -> tuple[str, str]:
    """Roles per channel index: ``("customer", "agent")`` or ``("agent", "customer")``."""
    a, b = parse_channels(list(channels))
    return _channel_role(a), _channel_role(b)  # type: ignore[return-value]


# --------------------------------------------------------------------- media


@dataclass(frozen=True)
class Media:
    """One ``conversations.media`` entry.

    ``start_time`` is aware UTC (``None`` only for non-recording media types);
    ``channels`` is the channel order, channel 1 first (lower-cased names);
    ``path`` says where it came from (``media[0]``,
    ``reservation_attributes.WR....media[0]``); ``raw`` is the entry as given.
    """

    url: str
    type: str
    start_time: datetime | None
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    raw: dict = field(default_factory=dict, compare=False)
    path: str = ""

    @property
    def is_recording(self) -> bool:
        return self.type == VOICE_RECORDING

    def roles(self) -> tuple[str, str]:
        """Who is on each channel: e.g. ``("customer", "agent")`` for channel 1, 2."""
        if len(self.channels) == 2:
            a, b = (_channel_role(n) for n in self.channels)
            if a and b and a != b:
                return a, b
        return "customer", "agent"

    def to_dict(self) -> dict:
        out = {
            "url": self.url,
            "type": self.type,
            "start_time": format_time(self.start_time),
            "channels": list(self.channels),
        }
        if self.is_recording:
            out["roles"] = list(self.roles())
        if self.path:
            out["path"] = self.path
        return out


def _template_message(path: str, expression: str) -> str:
    if "widgets." in expression:
        fix = "check the widget name in Send to Flex"
    else:
        fix = "check the expression in the Send to Flex widget's Attributes"
    return f"{path} still holds an unrendered template ({expression}): {fix}"


def _url_problem(url: str, path: str) -> str | None:
    text = url.strip()
    if not text:
        return f"{path} is empty: give the recording's https URL or a local file path"
    if any(c.isspace() for c in text) and "://" in text:
        return f"{path} contains whitespace: {json.dumps(url)} is not a valid URL"
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.netloc:
            return f"{path} has no host: {json.dumps(url)}; use e.g. https://api.twilio.com/2010-04-01/..."
        return None
    if scheme == "file" or scheme == "" or (len(scheme) == 1 and text[1:2] == ":"):
        return None  # a local path (for uploads), including Windows drive letters
    return (
        f"{path} must be an http(s) URL or a local file path, not a {scheme}: URL "
        f"({json.dumps(url)}); give a URL the recording can be downloaded from"
    )


def _parse_media_entry(entry: Any, path: str, problems: list[Problem]) -> Media | None:
    if not isinstance(entry, dict):
        problems.append(Problem(
            path, f"{path} must be an object with url, type, start_time and channels (got {_json_kind(entry)})"
        ))
        return None
    start = len(problems)
    # Unrendered Liquid anywhere in the entry: report each expression once per field.
    templated: set[str] = set()
    for key, value in entry.items():
        if isinstance(value, str):
            seen: list[str] = []
            for expr in _TEMPLATE.findall(value):
                if expr not in seen:
                    seen.append(expr)
                    problems.append(Problem(f"{path}.{key}", _template_message(f"{path}.{key}", expr)))
            if seen:
                templated.add(key)

    mtype = entry.get("type")
    if "type" in templated:
        pass
    elif mtype is None:
        problems.append(Problem(f"{path}.type", f'{path}.type is required: set it to "{VOICE_RECORDING}"'))
    elif mtype != VOICE_RECORDING and mtype not in OTHER_MEDIA_TYPES:
        hint = " (the value is case-sensitive)" if str(mtype).lower() == VOICE_RECORDING.lower() else ""
        problems.append(Problem(
            f"{path}.type",
            f'{path}.type must be "{VOICE_RECORDING}" for a call recording{hint}: got {json.dumps(mtype)}',
        ))
    is_recording = mtype == VOICE_RECORDING or mtype is None or "type" in templated or (
        mtype not in OTHER_MEDIA_TYPES
    )

    url = entry.get("url")
    url_key = "url"
    if url is None and entry.get("url_provider") is not None:
        url, url_key = entry.get("url_provider"), "url_provider"
    if url_key not in templated:
        if url is None:
            if is_recording:
                problems.append(Problem(
                    f"{path}.url",
                    f"{path}.url is required: the recording's URL, e.g. "
                    "https://api.twilio.com/2010-04-01/Accounts/AC.../Recordings/RE...",
                ))
        elif not isinstance(url, str):
            problems.append(Problem(f"{path}.{url_key}", f"{path}.{url_key} must be a string URL"))
        elif is_recording:
            msg = _url_problem(url, f"{path}.{url_key}")
            if msg:
                problems.append(Problem(f"{path}.{url_key}", msg))

    start_time: datetime | None = None
    if "start_time" not in templated:
        raw_start = entry.get("start_time")
        if raw_start is None:
            if is_recording:
                problems.append(Problem(
                    f"{path}.start_time",
                    f"{path}.start_time is required (offsets into the recording cannot be computed "
                    f"without it): set it to when the recording started, e.g. {_EXAMPLE_TIME}",
                ))
        else:
            try:
                start_time = _time_or_error(raw_start, f"{path}.start_time")
            except _TimeError as exc:
                problems.append(Problem(f"{path}.start_time", str(exc)))

    channels: tuple[str, ...] = DEFAULT_CHANNELS if is_recording else ()
    if "channels" in entry and "channels" not in templated:
        names, chan_problems = _channel_problems(entry["channels"], f"{path}.channels")
        if is_recording:
            problems.extend(chan_problems)
        if names:
            channels = names

    if len(problems) > start:
        return None
    return Media(
        url=str(url) if url is not None else "",
        type=str(mtype),
        start_time=start_time,
        channels=channels,
        raw=entry,
        path=path,
    )


def _parse_media_list(value: Any, path: str, entry_prefix: str, problems: list[Problem]) -> list[Media]:
    if not isinstance(value, list):
        shown = _json_kind(value)
        problems.append(Problem(
            path,
            f"{path} must be a list of media objects, e.g. [{{\"url\": ..., \"type\": \"VoiceRecording\", "
            f"\"start_time\": ..., \"channels\": {_EXAMPLE_CHANNELS}}}] (got {shown})",
        ))
        return []
    out = []
    for i, entry in enumerate(value):
        media = _parse_media_entry(entry, f"{entry_prefix}[{i}]", problems)
        if media is not None:
            out.append(media)
    return out


# ----------------------------------------------------------- task attributes


@dataclass
class TaskAttributes:
    """Flex task attributes, as far as recordings and segments go.

    ``media`` is the effective media list: the reservation's
    (``reservation_attributes.<reservation_sid>.media``) when it has one,
    otherwise the task's ``conversations.media``. ``conversations`` is the
    whole ``conversations`` object; ``notes`` says what was chosen when the
    choice was not obvious; ``raw`` is the payload as given.
    """

    conversation_id: str | None = None
    call_sid: str | None = None
    queue: str | None = None
    direction: str | None = None
    segment_link: str | None = None
    conversations: dict = field(default_factory=dict)
    media: list[Media] = field(default_factory=list)
    reservation_sid: str | None = None
    raw: dict = field(default_factory=dict)
    reservation_media: dict[str, list[Media]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def recording(self) -> Media | None:
        """The ``VoiceRecording`` entry used (the first one), or ``None``."""
        for media in self.media:
            if media.is_recording:
                return media
        return None

    def to_dict(self) -> dict:
        rec = self.recording
        return {
            "conversation_id": self.conversation_id,
            "call_sid": self.call_sid,
            "queue": self.queue,
            "direction": self.direction,
            "segment_link": self.segment_link,
            "reservation_sid": self.reservation_sid,
            "media": [m.to_dict() for m in self.media],
            "recording": rec.to_dict() if rec else None,
            "notes": list(self.notes),
        }


def _summary(what: str, problems: list[Problem]) -> str:
    if len(problems) == 1:
        return f"{what}: {problems[0]}"
    return f"{what} ({len(problems)} problems): " + "; ".join(str(p) for p in problems)


def _decode(data: Any, what: str) -> tuple[dict | None, list[Problem]]:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [Problem("", f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})")]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            return None, [Problem(
                "", f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                "it must be one JSON object"
            )]
    if not isinstance(data, dict):
        return None, [Problem("", f"{what} must be a JSON object, not {_json_kind(data)}")]
    return data, []


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _opt_str(obj: dict, key: str, path: str, problems: list[Problem]) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.append(Problem(path, f"{path} must be a string, not {_json_kind(value)}"))
        return None
    return str(value)


def _analyse(data: Any, reservation_sid: str | None) -> tuple[TaskAttributes | None, list[Problem]]:
    attrs, problems = _decode(data, "task attributes")
    if attrs is None:
        return None, problems
    notes: list[str] = []

    conversations = attrs.get("conversations")
    if conversations is None:
        conversations = {}
    elif not isinstance(conversations, dict):
        problems.append(Problem("conversations", f"conversations must be an object, not {_json_kind(conversations)}"))
        conversations = {}

    task_media: list[Media] = []
    has_task_media = "media" in conversations
    if has_task_media:
        task_media = _parse_media_list(conversations["media"], "conversations.media", "media", problems)

    reservation_media: dict[str, list[Media]] = {}
    res_attrs = attrs.get("reservation_attributes")
    if res_attrs is not None and not isinstance(res_attrs, dict):
        problems.append(Problem(
            "reservation_attributes",
            "reservation_attributes must be an object keyed by reservation SID (WR...), "
            f"not {_json_kind(res_attrs)}",
        ))
    elif res_attrs:
        for sid, res in res_attrs.items():
            rpath = f"reservation_attributes.{sid}"
            if not isinstance(res, dict):
                problems.append(Problem(rpath, f"{rpath} must be an object with a media list, not {_json_kind(res)}"))
                continue
            if "media" in res:
                reservation_media[sid] = _parse_media_list(res["media"], f"{rpath}.media", f"{rpath}.media", problems)

    # Effective media: the reservation's overrides the task's.
    chosen_sid = reservation_sid
    media = task_media
    if reservation_sid is not None:
        if reservation_sid in reservation_media:
            media = reservation_media[reservation_sid]
        elif reservation_media:
            notes.append(
                f"reservation {reservation_sid} has no media in reservation_attributes "
                f"(found: {', '.join(reservation_media)}); task-level conversations.media used"
            )
    elif reservation_media:
        if len(reservation_media) == 1 and not has_task_media:
            chosen_sid = next(iter(reservation_media))
            media = reservation_media[chosen_sid]
        elif not has_task_media:
            notes.append(
                f"reservation_attributes holds media for {len(reservation_media)} reservations "
                f"({', '.join(reservation_media)}): pass a reservation SID to choose one"
            )
        else:
            notes.append(
                f"reservation_attributes holds media for {', '.join(reservation_media)}; "
                "task-level conversations.media used (pass a reservation SID to use a reservation's)"
            )

    recordings = [m for m in media if m.is_recording]
    if len(recordings) > 1:
        notes.append(
            f"{len(recordings)} VoiceRecording entries: {recordings[0].path} is used, "
            + ", ".join(m.path for m in recordings[1:]) + " ignored"
        )

    result = TaskAttributes(
        conversation_id=_opt_str(conversations, "conversation_id", "conversations.conversation_id", problems),
        call_sid=_opt_str(attrs, "call_sid", "call_sid", problems),
        queue=_opt_str(conversations, "queue", "conversations.queue", problems)
        or _opt_str(attrs, "queue", "queue", problems),
        direction=_opt_str(attrs, "direction", "direction", problems)
        or _opt_str(conversations, "direction", "conversations.direction", problems),
        segment_link=_opt_str(conversations, "segment_link", "conversations.segment_link", problems)
        or _opt_str(attrs, "segment_link", "segment_link", problems),
        conversations=conversations,
        media=media,
        reservation_sid=chosen_sid,
        raw=attrs,
        reservation_media=reservation_media,
        notes=notes,
    )
    return result, problems


def validate_task_attributes(data: Any, *, reservation_sid: str | None = None) -> list[Problem]:
    """Every problem with Flex task attributes, ``[]`` when they are fine.

    ``data`` is a dict, or JSON text (``str``/``bytes``). All media lists are
    checked, task-level and every reservation's.
    """
    return _analyse(data, reservation_sid)[1]


def parse_task_attributes(
    data: Any, *, reservation_sid: str | None = None, require_recording: bool = False
) -> TaskAttributes:
    """Parse Flex task attributes (dict or JSON text) into :class:`TaskAttributes`.

    With ``reservation_sid``, that reservation's media (when present) overrides
    the task's. Without it, a single reservation's media is used when the task
    has none. Extra fields are ignored. Raises :class:`MetadataError` listing
    every problem; with ``require_recording`` a missing VoiceRecording is one.
    """
    result, problems = _analyse(data, reservation_sid)
    if result is not None and require_recording and not problems and result.recording is None:
        problems.append(Problem(
            "conversations.media",
            "conversations.media has no VoiceRecording entry: add "
            '{"url": ..., "type": "VoiceRecording", "start_time": ..., "channels": ["customer", "others"]}'
            + (f" ({result.notes[0]})" if result.notes else ""),
        ))
    if problems:
        raise MetadataError(_summary("invalid Flex task attributes", problems), problems)
    assert result is not None
    return result


def _read_text(path: str | Path) -> str:
    p = Path(path)

    def fail(reason: str) -> MetadataError:
        return MetadataError(f"{p}: {reason}", [Problem("", reason)])

    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("is a directory, not a file") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _form_fields(text: str) -> dict[str, str] | None:
    """A TaskRouter event body (form-encoded) carrying TaskAttributes, else None."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")) or "TaskAttributes=" not in stripped:
        return None
    return dict(urllib.parse.parse_qsl(stripped, keep_blank_values=True))


def _named(exc: MetadataError, name: str) -> MetadataError:
    return MetadataError(f"{name}: {exc.message}", exc.problems)


def load_task_attributes(
    path: str | Path, *, reservation_sid: str | None = None, require_recording: bool = False
) -> TaskAttributes:
    """Read task attributes from a JSON file (or a saved TaskRouter event body).

    A form-encoded TaskRouter event (``...&TaskAttributes=...&ReservationSid=WR...``)
    is accepted too; its ``ReservationSid`` is used unless ``reservation_sid``
    is given. Errors name the file.
    """
    text = _read_text(path)
    form = _form_fields(text)
    if form is not None:
        text = form.get("TaskAttributes", "")
        if reservation_sid is None:
            reservation_sid = form.get("ReservationSid") or None
    try:
        return parse_task_attributes(text, reservation_sid=reservation_sid, require_recording=require_recording)
    except MetadataError as exc:
        raise _named(exc, str(path)) from None


@dataclass
class ValidationResult:
    """The outcome of checking one task-attributes file."""

    file: str
    attributes: TaskAttributes | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def error(self) -> MetadataError | None:
        if self.ok:
            return None
        return MetadataError(_summary(f"{self.file}: invalid Flex task attributes", self.problems), self.problems)

    def to_dict(self) -> dict:
        if self.ok:
            assert self.attributes is not None
            out = {"ok": True, "file": self.file}
            out.update(self.attributes.to_dict())
            return out
        assert self.error is not None
        out = self.error.to_dict()
        out["file"] = self.file
        return out


def validate_file(
    path: str | Path, *, reservation_sids: Iterable[str] = (), text: str | bytes | None = None
) -> ValidationResult:
    """Check one task-attributes file as ``antiphon validate`` does.

    A VoiceRecording entry is required. Of ``reservation_sids``, the first that
    the file's ``reservation_attributes`` names is used (a single SID is always
    used, so a wrong one is noted). With ``text`` the file is not read and
    ``path`` only names it (e.g. ``<stdin>``).
    """
    sids = list(reservation_sids)
    name = str(path)
    if text is None:
        try:
            text = _read_text(path)
        except MetadataError as exc:
            return ValidationResult(name, None, exc.problems)
    elif isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return ValidationResult(name, None, [Problem("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")])
    form = _form_fields(text)
    form_sid = None
    if form is not None:
        text = form.get("TaskAttributes", "")
        form_sid = form.get("ReservationSid") or None
    reservation_sid = sids[0] if len(sids) == 1 else None
    if len(sids) > 1:
        decoded, _ = _decode(text, "task attributes")
        res = decoded.get("reservation_attributes") if decoded else None
        if isinstance(res, dict):
            reservation_sid = next((s for s in sids if s in res), None)
    if reservation_sid is None:
        reservation_sid = form_sid
    try:
        attrs = parse_task_attributes(text, reservation_sid=reservation_sid, require_recording=True)
    except MetadataError as exc:
        return ValidationResult(name, None, exc.problems)
    return ValidationResult(name, attrs, [])


# ---------------------------------------------------------------- recordings


@dataclass
class TwilioRecording:
    """A Twilio Recording, from the REST resource or a RecordingStatusCallback.

    ``media`` is the equivalent ``VoiceRecording`` media entry (default
    channel order ``customer, others``); ``duration`` is in seconds.
    """

    sid: str | None
    call_sid: str | None
    url: str
    start_time: datetime
    duration: float | None
    channels: int | None
    status: str | None
    source: str | None
    raw: dict = field(default_factory=dict)

    @property
    def media(self) -> Media:
        return Media(url=self.url, type=VOICE_RECORDING, start_time=self.start_time,
                     channels=DEFAULT_CHANNELS, raw=self.raw, path="recording")

    def to_dict(self) -> dict:
        return {
            "sid": self.sid, "call_sid": self.call_sid, "url": self.url,
            "start_time": format_time(self.start_time), "duration": self.duration,
            "channels": self.channels, "status": self.status, "source": self.source,
        }


# callback field -> REST field
_RECORDING_FIELDS = {
    "RecordingSid": "sid",
    "CallSid": "call_sid",
    "RecordingStartTime": "start_time",
    "RecordingDuration": "duration",
    "RecordingChannels": "channels",
    "RecordingStatus": "status",
    "RecordingSource": "source",
}


def parse_recording(data: Any) -> TwilioRecording:
    """Parse a Twilio Recording: the REST resource (JSON, ``start_time`` in RFC
    2822) or a RecordingStatusCallback body (a dict of its form fields, or the
    form-encoded text). Raises :class:`MetadataError` listing every problem,
    including a recording that is not dual-channel or not ``completed``.
    """
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8-sig", errors="replace")
    if isinstance(data, str):
        text = data.strip()
        if text.startswith("{"):
            obj, problems = _decode(text, "recording")
            if obj is None:
                raise MetadataError(_summary("invalid recording", problems), problems)
            data = obj
        else:
            data = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    if not isinstance(data, dict):
        p = Problem("", f"recording must be a JSON object or callback fields, not {_json_kind(data)}")
        raise MetadataError(_summary("invalid recording", [p]), [p])

    callback = any(k in data for k in _RECORDING_FIELDS)
    names = {v: (k if callback else v) for k, v in _RECORDING_FIELDS.items()}
    get = lambda key: data.get(names[key])  # noqa: E731
    problems: list[Problem] = []

    if callback:
        url_key, url = "RecordingUrl", data.get("RecordingUrl")
    elif data.get("media_url"):
        url_key, url = "media_url", data.get("media_url")
    else:
        url_key, url = "uri", data.get("uri")
        if isinstance(url, str) and url.startswith("/"):
            url = "https://api.twilio.com" + re.sub(r"\.json$", "", url)
    if not isinstance(url, str) or not url:
        what = url_key if callback else "media_url (or uri)"
        problems.append(Problem(url_key, f"{what} is required: the recording's URL"))
        url = ""
    else:
        msg = _url_problem(url, url_key)
        if msg:
            problems.append(Problem(url_key, msg))

    start_time = None
    if get("start_time") in (None, ""):
        problems.append(Problem(names["start_time"], f"{names['start_time']} is required (offsets into the "
                                "recording cannot be computed without it)"))
    else:
        try:
            start_time = _time_or_error(get("start_time"), names["start_time"])
        except _TimeError as exc:
            problems.append(Problem(names["start_time"], str(exc)))

    def number(key: str) -> float | None:
        value = get(key)
        if value in (None, ""):
            return None
        try:
            out = float(value)
            if math.isfinite(out) and out >= 0 and not isinstance(value, bool):
                return out
        except (TypeError, ValueError):
            pass
        problems.append(Problem(names[key], f"{names[key]} must be a number >= 0, not {json.dumps(value)}"))
        return None

    duration = number("duration")
    channels_f = number("channels")
    channels = int(channels_f) if channels_f is not None else None
    if channels is not None and channels != 2:
        problems.append(Problem(
            names["channels"],
            f"{names['channels']} is {channels}: Antiphon needs a dual-channel recording (customer and agent "
            "on separate channels); turn on dual-channel recording (recordingChannels \"dual\")",
        ))
    status = get("status")
    if status not in (None, "", "completed"):
        problems.append(Problem(
            names["status"], f"{names['status']} is {json.dumps(status)}: only completed recordings can be analysed"
        ))
    if problems:
        raise MetadataError(_summary("invalid recording", problems), problems)
    assert start_time is not None
    return TwilioRecording(
        sid=get("sid") or None, call_sid=get("call_sid") or None, url=url, start_time=start_time,
        duration=duration, channels=channels, status=status or None, source=get("source") or None, raw=data,
    )


# ------------------------------------------------------------------ segments


@dataclass
class Segment:
    """One segment of a conversation (one reservation, one agent), wall-clock.

    ``end`` is ``None`` while a segment is open. ``attributes`` keeps any
    other fields given for the segment.
    """

    task_sid: str | None
    reservation_sid: str | None
    worker: str | None
    queue: str | None
    start: datetime
    end: datetime | None = None
    attributes: dict = field(default_factory=dict)


@dataclass
class SegmentWindow:
    """Where a segment lies in a recording, in seconds from the recording's start.

    ``segment_recording_offset`` is where the segment starts in the recording
    (Flex Insights' name; clipped to 0 when the segment began before the
    recording). ``window`` is ``(start, end)`` clipped to the recording, or
    ``None`` when the segment is not inside it; ``note`` then says why.
    """

    segment: Segment
    segment_recording_offset: float | None
    window: tuple[float, float] | None
    note: str | None = None

    def to_dict(self) -> dict:
        s = self.segment
        return {
            "task_sid": s.task_sid,
            "reservation_sid": s.reservation_sid,
            "worker": s.worker,
            "queue": s.queue,
            "start": format_time(s.start),
            "end": format_time(s.end),
            "segment_recording_offset": self.segment_recording_offset,
            "window": list(self.window) if self.window is not None else None,
            "note": self.note,
        }


def _secs(x: float) -> float:
    return round(x, 3) + 0.0  # millisecond precision; avoid -0.0


def segment_windows(
    recording_start: datetime, recording_duration: float | None, segments: Iterable[Segment]
) -> list[SegmentWindow]:
    """Place wall-clock segments inside a recording that began at ``recording_start``.

    ``recording_duration`` (seconds) clips windows when known. A segment
    wholly outside the recording, or ending before it starts, gets
    ``window=None`` and a note instead of an error.
    """
    rec_start = parse_time(recording_start, field="recording_start")
    try:
        duration = None if recording_duration is None else float(recording_duration)
    except (TypeError, ValueError):
        duration = -1.0
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        msg = f"recording_duration must be a number of seconds >= 0, not {recording_duration!r}"
        raise MetadataError(msg, [Problem("recording_duration", msg)])
    out: list[SegmentWindow] = []
    for i, seg in enumerate(segments):
        start_t = parse_time(seg.start, field=f"segments[{i}].start")
        end_t = parse_time(seg.end, field=f"segments[{i}].end") if seg.end is not None else None
        begin = (start_t - rec_start).total_seconds()
        end = (end_t - rec_start).total_seconds() if end_t is not None else None

        if end is not None and end < begin:
            out.append(SegmentWindow(seg, None, None, (
                f"segment ends before it starts (start {format_time(start_t)}, end {format_time(end_t)})"
            )))
            continue
        if end is not None and end <= 0 and begin < 0:
            out.append(SegmentWindow(seg, None, None, (
                f"segment ended {_secs(-end):g} s before the recording started "
                f"({format_time(rec_start)}): it is not in this recording"
            )))
            continue
        if duration is not None and begin >= duration:
            out.append(SegmentWindow(seg, None, None, (
                f"segment starts {_secs(begin - duration):g} s after the recording ended "
                f"(the recording is {duration:g} s long): it is not in this recording"
            )))
            continue

        notes = []
        lo = begin
        if begin < 0:
            notes.append(f"segment started {_secs(-begin):g} s before the recording; window starts at 0")
            lo = 0.0
        hi = end
        if hi is None:
            if duration is None:
                out.append(SegmentWindow(seg, _secs(lo), None, (
                    "segment has no end and the recording duration is unknown: window unknown"
                    + ("; " + notes[0] if notes else "")
                )))
                continue
            hi = duration
        elif duration is not None and hi > duration:
            if hi - duration > CLIP_TOLERANCE_S:
                notes.append(
                    f"segment ends {_secs(hi - duration):g} s after the recording ended; window clipped to {duration:g} s"
                )
            hi = duration
        out.append(SegmentWindow(seg, _secs(lo), (_secs(lo), _secs(hi)), "; ".join(notes) or None))
    return out


@dataclass
class Conversation:
    """One recording and the segments (reservations) it spans."""

    recording: Media
    segments: list[Segment]

    def windows(self, recording_duration: float | None = None) -> list[SegmentWindow]:
        """:func:`segment_windows` for this recording's ``start_time``."""
        assert self.recording.start_time is not None
        return segment_windows(self.recording.start_time, recording_duration, self.segments)


_SEGMENT_KEYS = ("task_sid", "reservation_sid", "worker", "queue", "start", "end")


def parse_conversation(data: Any) -> Conversation:
    """Parse ``{"recording": <media entry>, "segments": [{task_sid, reservation_sid,
    worker, queue, start, end}, ...]}`` (dict or JSON text). Times may be ISO
    8601, epoch milliseconds or RFC 2822. Raises :class:`MetadataError`
    listing every problem.
    """
    obj, problems = _decode(data, "conversation")
    if obj is None:
        raise MetadataError(_summary("invalid conversation", problems), problems)
    recording = None
    if "recording" not in obj:
        problems.append(Problem("recording", "recording is required: the VoiceRecording media entry of the call"))
    else:
        recording = _parse_media_entry(obj["recording"], "recording", problems)
        if recording is not None and not recording.is_recording:
            problems.append(Problem("recording.type", f'recording.type must be "{VOICE_RECORDING}"'))
    segments: list[Segment] = []
    raw_segments = obj.get("segments")
    if not isinstance(raw_segments, list):
        problems.append(Problem(
            "segments", "segments must be a list of {task_sid, reservation_sid, worker, queue, start, end} objects"
            + (" (missing)" if raw_segments is None else f", not {_json_kind(raw_segments)}")
        ))
        raw_segments = []
    for i, item in enumerate(raw_segments):
        path = f"segments[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(path, f"{path} must be an object, not {_json_kind(item)}"))
            continue
        ok = True
        times: dict[str, datetime | None] = {"start": None, "end": None}
        for key in ("start", "end"):
            value = item.get(key)
            if value is None:
                if key == "start":
                    problems.append(Problem(f"{path}.start", f"{path}.start is required: when the segment began"))
                    ok = False
                continue
            try:
                times[key] = _time_or_error(value, f"{path}.{key}")
            except _TimeError as exc:
                problems.append(Problem(f"{path}.{key}", str(exc)))
                ok = False
        fields = {}
        for key in ("task_sid", "reservation_sid", "worker", "queue"):
            fields[key] = _opt_str(item, key, f"{path}.{key}", problems)
        if ok:
            segments.append(Segment(
                start=times["start"],  # type: ignore[arg-type]
                end=times["end"],
                attributes={k: v for k, v in item.items() if k not in _SEGMENT_KEYS},
                **fields,
            ))
    if problems:
        raise MetadataError(_summary("invalid conversation", problems), problems)
    assert recording is not None
    return Conversation(recording=recording, segments=segments)


def load_conversation(path: str | Path) -> Conversation:
    """Read a conversation file (see :func:`parse_conversation`); errors name the file."""
    text = _read_text(path)
    try:
        return parse_conversation(text)
    except MetadataError as exc:
        raise _named(exc, str(path)) from None
