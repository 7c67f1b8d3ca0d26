"""Shared fixtures: where the reference calls live, and generated audio."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ANTIPHON_SHARED", ROOT.parent / "shared"))
CALLS = SHARED / "calls"
FLEX = SHARED / "flex"
HARPER_VALLEY = sorted((CALLS / "harper-valley").glob("hvb_*.wav"))


def _require(path: Path) -> Path:
    if not path.exists():
        # In CI ../shared is always beside the clone: a missing folder is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(f"reference data missing: {path}")
        pytest.skip(f"reference data not found at {path} (set ANTIPHON_SHARED)")
    return path


@pytest.fixture(scope="session")
def calls_dir() -> Path:
    return _require(CALLS)


@pytest.fixture(scope="session")
def flex_dir() -> Path:
    return _require(FLEX)


def write_wav(path: Path, data: np.ndarray, sample_rate: int = 8000, subtype: str = "PCM_16") -> Path:
    """Write float data in [-1, 1] (shape (n,) or (n, channels)) as a WAV file."""
    import soundfile as sf

    sf.write(str(path), data, sample_rate, subtype=subtype)
    return path


@pytest.fixture
def wav_writer(tmp_path):
    def make(name: str, data: np.ndarray, sample_rate: int = 8000, subtype: str = "PCM_16", **kw) -> Path:
        return write_wav(tmp_path / name, data, sample_rate, subtype)

    return make


def pytest_sessionfinish(session, exitstatus):
    """In CI (and under ``make test``, which installs everything) a skipped test is a failure."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.ensure_newline()
        for rep in skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr
            reporter.write_line(f"SKIPPED IN CI (a failure here): {rep.nodeid}: {reason}", red=True)
        session.exitstatus = 1
