"""The sample calls bundled with Antiphon (Harper Valley Bank corpus, CC-BY-4.0).

>>> [c.name for c in sample_calls()]
['hvb_0002f70f7386445b', 'hvb_00d676d7058c49bb']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SampleCall", "sample_calls", "SAMPLES_DIR"]

SAMPLES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class SampleCall:
    name: str
    audio: Path
    task: Path  # Flex task attributes
    conversation: Path  # recording media + segments


def sample_calls() -> list[SampleCall]:
    return [
        SampleCall(p.stem, p, p.with_suffix(".task.json"), p.with_suffix(".conversation.json"))
        for p in sorted(SAMPLES_DIR.glob("*.wav"))
    ]
