"""The shell examples in docs/transcription.md, docs/rules.md and docs/redaction.md run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("transcription.md", "rules.md", "redaction.md")


def examples() -> list[tuple[str, str]]:
    out = []
    for name in DOCS:
        text = (ROOT / "docs" / name).read_text()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            out += [(name, ln.strip()) for ln in block.splitlines() if ln.strip().startswith("antiphon ")]
    return out


def test_each_doc_has_examples():
    found = {name for name, _ in examples()}
    assert found == set(DOCS)


@pytest.mark.slow
@pytest.mark.parametrize("doc, line", examples())
def test_doc_example_runs(doc, line, tmp_path, whisper):
    # run where output files can be written; the repository's src/ is reachable as in the docs
    (tmp_path / "src").symlink_to(ROOT / "src")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    args = shlex.split(line)
    before = set(tmp_path.iterdir())
    proc = subprocess.run([sys.executable, "-m", "antiphon", *args[1:]], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    written = set(tmp_path.iterdir()) - before
    assert proc.stdout.strip() or written, f"{line}: no output"
    for f in written:
        assert f.stat().st_size > 0
