"""The demo: the bundled sample calls through the whole pipeline.

Without the ``server`` extra it analyses each sample call with its
conversation metadata and prints the reports. With it, the calls are also
ingested into a store in ``data_dir`` (SQLite, local files) and, with
``serve=True``, the web player is served on ``host:port``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .analysis import analyze
from .report import format_analysis
from .samples import sample_calls

__all__ = ["run_demo"]


def run_demo(echo: Callable[[str], None] = print) -> list[dict]:
    """Analyse every bundled sample call; return the analysis dicts."""
    results = []
    for call in sample_calls():
        result = analyze(call.audio, conversation=call.conversation).to_dict()
        results.append(result)
        echo(format_analysis(result))
        echo("")
    return results
