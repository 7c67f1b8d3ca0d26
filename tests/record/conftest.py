"""Fixtures for the recorder tests: legs cut from the Harper Valley calls."""

from __future__ import annotations

import pytest

from recordkit import hold_music, load_call, write


@pytest.fixture(scope="session")
def hv(calls_dir):
    return [load_call(calls_dir, i) for i in range(2)]


@pytest.fixture
def legs(tmp_path, hv):
    """Mono legs from two calls: customer A, agent A, agent B (second call's agent)."""
    (a, sr, sa), (b, _, sb) = hv
    return {
        "customer": (write(tmp_path / "customer.wav", a[:, 0], sr), sa[0]),
        "alice": (write(tmp_path / "alice.wav", a[:, 1], sr), sa[1]),
        "bob": (write(tmp_path / "bob.wav", b[:, 1], sr), sb[1]),
        "music": (write(tmp_path / "music.wav", hold_music(20.0, sr), sr), None),
        "sr": sr,
    }
