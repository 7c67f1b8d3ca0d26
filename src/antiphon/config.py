"""Service settings: environment variables, an optional TOML file, defaults.

Precedence, highest first: explicit keyword overrides (CLI options such as
``--port``), environment variables (``ANTIPHON_*``), the config file
(``--config`` or ``ANTIPHON_CONFIG``), then the defaults below. Every setting
is documented in ``docs/configuration.md``.

>>> s = load_settings(env={"ANTIPHON_DATA_DIR": "/var/lib/antiphon"})
>>> s.database_url
'sqlite:////var/lib/antiphon/antiphon.db'

A config file uses the same names without the prefix, lower-cased::

    data_dir = "/var/lib/antiphon"
    database_url = "postgresql+psycopg://antiphon@db/antiphon"
    public_url = "https://calls.example.com"
    twilio_account_sid = "AC..."
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import AntiphonError, Problem

__all__ = ["Settings", "ConfigError", "load_settings"]

ENV_PREFIX = "ANTIPHON_"


class ConfigError(AntiphonError):
    """A setting that cannot be used (bad value, unreadable config file)."""

    status = 500


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with.

    data_dir:
        Where the SQLite database (by default) and the media files live.
        ``ANTIPHON_DATA_DIR``, default ``./antiphon-data``.
    database_url:
        SQLAlchemy URL. Default: ``sqlite:///<data_dir>/antiphon.db``.
        PostgreSQL: ``postgresql://user:pass@host/db`` (the psycopg 3 driver is
        used; install the ``postgres`` extra). ``ANTIPHON_DATABASE_URL``.
    twilio_account_sid, twilio_auth_token:
        The Twilio account whose webhooks are accepted: the Auth Token checks
        ``X-Twilio-Signature`` and, with the Account SID, authenticates media
        downloads. ``ANTIPHON_TWILIO_ACCOUNT_SID``, ``ANTIPHON_TWILIO_AUTH_TOKEN``.
    twilio_api_key, twilio_api_secret:
        An API key (``SK...``) and secret used for media downloads instead of
        the Account SID and Auth Token. ``ANTIPHON_TWILIO_API_KEY``,
        ``ANTIPHON_TWILIO_API_SECRET``.
    auth:
        ``True`` (default): the JSON API, the media and the web pages need an
        API key (HTTP Basic). ``ANTIPHON_AUTH=off`` turns that off on a
        trusted network. Webhooks are always checked by their Twilio signature.
    public_url:
        The URL Twilio calls, e.g. ``https://calls.example.com`` when the
        service runs behind a proxy or tunnel: webhook signatures are computed
        over it. Unset: the request URL, honouring ``X-Forwarded-Proto`` and
        ``X-Forwarded-Host``. ``ANTIPHON_PUBLIC_URL``.
    host, port:
        Where ``antiphon serve`` listens. ``ANTIPHON_HOST`` (default
        ``127.0.0.1``), ``ANTIPHON_PORT`` (default ``8000``).
    workers:
        Job worker processes started by ``antiphon serve`` (0: none, run
        ``antiphon worker`` separately) and by ``antiphon worker``.
        ``ANTIPHON_WORKERS``, default 1.
    job_lease:
        Seconds a worker holds a job before another may take it over; renewed
        while the job runs, so only a dead worker's job expires.
        ``ANTIPHON_JOB_LEASE``, default 60.
    job_max_attempts:
        Attempts before a job is marked failed. ``ANTIPHON_JOB_MAX_ATTEMPTS``,
        default 8.
    job_retry_delay:
        Seconds before the first retry of a failed attempt; doubles each
        attempt, capped at 1 hour. ``ANTIPHON_JOB_RETRY_DELAY``, default 30.
    poll_interval:
        Seconds an idle worker waits before looking for work again.
        ``ANTIPHON_POLL_INTERVAL``, default 1.
    download_timeout:
        Seconds to connect or to wait for data while downloading media.
        ``ANTIPHON_DOWNLOAD_TIMEOUT``, default 30.
    download_retries:
        Download attempts inside one job attempt (exponential backoff from
        ``download_backoff`` seconds). ``ANTIPHON_DOWNLOAD_RETRIES`` (4),
        ``ANTIPHON_DOWNLOAD_BACKOFF`` (1.0).
    media_auth_hosts:
        Hosts that receive the Twilio credentials when media is downloaded,
        comma-separated (``host`` or ``host:port``); ``*.twilio.com`` always
        does. Media URLs on other hosts are fetched without credentials, so a
        URL typed into task attributes cannot collect your Auth Token.
        ``ANTIPHON_MEDIA_AUTH_HOSTS``.
    max_media_bytes:
        Largest media file accepted (download or upload).
        ``ANTIPHON_MAX_MEDIA_BYTES``, default 2 GiB.
    transcribe:
        Transcribe each analysed recording (needs the ``transcribe`` extra).
        ``ANTIPHON_TRANSCRIBE``, default off.
    rules:
        A rules file (categories, keyword hits) applied to every analysis.
        ``ANTIPHON_RULES``.
    """

    data_dir: Path = Path("antiphon-data")
    database_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_key: str | None = None
    twilio_api_secret: str | None = field(default=None, repr=False)
    auth: bool = True
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    job_lease: float = 60.0
    job_max_attempts: int = 8
    job_retry_delay: float = 30.0
    poll_interval: float = 1.0
    download_timeout: float = 30.0
    download_retries: int = 4
    download_backoff: float = 1.0
    max_media_bytes: int = 2 * 1024**3
    media_auth_hosts: str | None = None
    transcribe: bool = False
    rules: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.public_url:
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))

    @property
    def db_url(self) -> str:
        """The database URL in use (the SQLite default filled in)."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://"):]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        return f"sqlite:///{self.data_dir.resolve() / 'antiphon.db'}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def download_credentials(self) -> tuple[str, str] | None:
        """HTTP Basic credentials for Twilio media: API key if set, else Account SID + Auth Token."""
        if self.twilio_api_key and self.twilio_api_secret:
            return (self.twilio_api_key, self.twilio_api_secret)
        if self.twilio_account_sid and self.twilio_auth_token:
            return (self.twilio_account_sid, self.twilio_auth_token)
        return None

    def credentials_for(self, url: str) -> tuple[str, str] | None:
        """:meth:`download_credentials` if ``url``'s host may receive them, else ``None``."""
        from urllib.parse import urlsplit

        p = urlsplit(url)
        host = (p.hostname or "").lower()
        if p.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com")):
            return self.download_credentials()
        allowed = {h.strip().lower() for h in (self.media_auth_hosts or "").split(",") if h.strip()}
        if host in allowed or (p.port and f"{host}:{p.port}" in allowed):
            return self.download_credentials()
        return None

    def public(self) -> dict:
        """The settings without secrets (for logs and ``/api/status``)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("twilio_auth_token", "twilio_api_secret"):
                v = "(set)" if v else None
            elif f.name == "database_url" and v:
                v = _hide_password(v)
            out[f.name] = str(v) if isinstance(v, Path) else v
        return out


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(set)"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, kind: str, value: Any, source: str) -> Any:
    path = f"{source}{name}"
    if value is None:
        return None
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError("must be on/off (true/false, 1/0)")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("must be an integer")
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("must be a number")
            return float(value)
        if kind == "Path":
            return Path(os.path.expanduser(str(value)))
        s = str(value)
        return s if s != "" else None
    except ValueError as exc:
        msg = str(exc) if "must" in str(exc) else f"must be {'an integer' if kind == 'int' else 'a number'}"
        raise ConfigError(f"bad setting {path}: {msg}", [Problem(path, f"{path} {msg}")]) from None


def _kinds() -> dict[str, str]:
    out = {}
    for f in fields(Settings):
        t = str(f.type)
        out[f.name] = ("bool" if t.startswith("bool") else "int" if t.startswith("int")
                       else "float" if t.startswith("float") else "Path" if t.startswith("Path") else "str")
    return out


def load_settings(config_file: str | os.PathLike | None = None, *,
                  env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from defaults, a TOML file, the environment and overrides.

    ``config_file`` defaults to ``$ANTIPHON_CONFIG``. Overrides whose value is
    ``None`` are ignored, so CLI options can be passed through unconditionally.
    Unknown keys in the file are an error (a typo should not pass silently).
    """
    env = os.environ if env is None else env
    kinds = _kinds()
    values: dict[str, Any] = {}
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        p = Path(config_file)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {p} not found") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {p} cannot be read: {exc}") from None
        data = data.get("antiphon", data)  # a [antiphon] table is accepted too
        unknown = sorted(set(data) - set(kinds))
        if unknown:
            raise ConfigError(
                f"config file {p}: unknown setting(s) {', '.join(unknown)}",
                [Problem(k, f"{k} is not a setting (see docs/configuration.md)") for k in unknown],
            )
        for k, v in data.items():
            values[k] = _convert(k, kinds[k], v, f"{p.name}:")
    for name, kind in kinds.items():
        key = ENV_PREFIX + name.upper()
        if key in env and env[key] != "":
            values[name] = _convert(key, kind, env[key], "")
    for k, v in overrides.items():
        if k not in kinds:
            raise TypeError(f"unknown setting {k!r}")
        if v is not None:
            values[k] = _convert(k, kinds[k], v, "")
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    problems = []
    if s.workers < 0:
        problems.append(Problem("workers", "workers must be 0 or more"))
    if not (0 < s.port < 65536):
        problems.append(Problem("port", "port must be between 1 and 65535"))
    if s.job_lease <= 0:
        problems.append(Problem("job_lease", "job_lease must be more than 0 seconds"))
    if s.job_max_attempts < 1:
        problems.append(Problem("job_max_attempts", "job_max_attempts must be 1 or more"))
    if s.download_retries < 1:
        problems.append(Problem("download_retries", "download_retries must be 1 or more"))
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        problems.append(Problem("public_url", "public_url must start with http:// or https://"))
    if problems:
        raise ConfigError("invalid settings: " + "; ".join(str(p) for p in problems), problems)


def with_overrides(settings: Settings, **kw: Any) -> Settings:
    """A copy of ``settings`` with some fields replaced (``None`` values ignored)."""
    return replace(settings, **{k: v for k, v in kw.items() if v is not None})
