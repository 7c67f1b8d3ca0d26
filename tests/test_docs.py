"""Docs are tested: every command and metric is documented, README examples run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from antiphon.cli import COMMANDS, LazyGroup, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def shell_examples(markdown: str, heading: str) -> list[str]:
    """The `antiphon ...` lines of the ```sh blocks under a heading."""
    section = markdown.split(heading, 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [ln.strip() for ln in block.splitlines() if ln.strip().startswith("antiphon ")]
    return lines


def test_every_command_is_documented():
    text = (DOCS / "cli.md").read_text()
    available = LazyGroup.list_commands(main, None)
    assert available, "no commands found"
    missing = [c for c in available if f"## antiphon {c}" not in text]
    assert not missing, f"commands without a section in docs/cli.md: {missing}"
    # and every documented command exists
    for name in re.findall(r"^## antiphon (\w+)", text, re.M):
        assert name in COMMANDS, name


def test_every_metric_is_documented():
    from antiphon.metrics import compute_metrics
    from antiphon.timeline import Timeline

    m = compute_metrics(Timeline([(0, 2), (6, 9)]), Timeline([(1, 4), (8, 12)]), (0, 20))
    text = (DOCS / "metrics.md").read_text()
    missing = [k for k in m if f"`{k}`" not in text]
    assert not missing, f"metrics missing from docs/metrics.md: {missing}"


def test_analysis_json_keys_are_documented():
    from antiphon.samples import sample_calls
    from antiphon.analysis import analyze

    call = sample_calls()[0]
    d = analyze(call.audio, conversation=call.conversation).to_dict()
    text = (DOCS / "analysis-json.md").read_text()
    for key in d:
        assert f"`{key}" in text, key
    for key in d["recording"]:
        assert f"recording.{key}" in text or f"`{key}`" in text, key


README_EXAMPLES = shell_examples((ROOT / "README.md").read_text(), "Examples (run from the repository root")


@pytest.mark.parametrize("line", README_EXAMPLES)
def test_readme_examples_run(line):
    args = shlex.split(line)
    # expand globs the way a shell would
    expanded = []
    for a in args[1:]:
        matches = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(a)) if "*" in a else []
        expanded += matches or [a]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "antiphon", *expanded], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_readme_has_examples():
    assert len(README_EXAMPLES) >= 5
