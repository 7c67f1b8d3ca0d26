"""`antiphon mix` on the command line, and the worked example in docs/mixing.md."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from antiphon.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "mixing.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def run(args, cwd):
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        return runner.invoke(main, args)


def test_worked_example_runs(tmp_path):
    python = blocks("python")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        exec(compile(python[0], "docs/mixing.md", "exec"), {})
    (tmp_path / "transfer.json").write_text(blocks("json")[0])
    json.loads(blocks("json")[0])
    commands = [ln for b in blocks("sh") for ln in b.splitlines() if ln.startswith("antiphon ")]
    assert len(commands) >= 5
    for i, line in enumerate(commands):
        res = run(shlex.split(line)[1:], tmp_path)
        assert res.exit_code == 0, (line, res.output)
        if i == 0:  # the printed line shown in the doc
            assert res.output.strip() == "wrote call.wav: 51.4 s, 8000 Hz, pcm16; agent leg offset +0.2500 s (from start times)"
    out = tmp_path / "plugin"
    assert sorted(p.name for p in out.glob("*.wav")) == ["transfer.1-alice.wav", "transfer.2-bob.wav"]
    task = json.loads((out / "transfer.2-bob.task.json").read_text())
    (sid,) = task["reservation_attributes"]
    media = task["reservation_attributes"][sid]["media"][0]
    assert media["start_time"] == "2026-11-02T15:04:41Z" and media["channels"] == ["customer", "others"]
    worker = json.loads((tmp_path / "worker" / "transfer.1-alice.conversation.json").read_text())
    assert worker["recording"]["channels"] == ["others", "customer"]
    # the Python API block
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        exec(compile(python[1], "docs/mixing.md", "exec"), {})
    assert (tmp_path / "plugin2" / "transfer.1-alice.wav").exists()


def test_cli_json_and_errors(tmp_path, legs):
    c, a = str(legs["customer"][0]), str(legs["alice"][0])
    res = run(["mix", "--customer", c, "--agent", a, "-o", "x.wav", "--customer-start", "0",
               "--agent-start", "1.5", "--json"], tmp_path)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ok"] and out["offset"] == 1.5 and out["aligned_by"] == "start times"
    # no bleed: refused with a clear message, no traceback
    res = run(["mix", "--customer", c, "--agent", a, "-o", "y.wav"], tmp_path)
    assert res.exit_code == 2 and "give both start times" in res.output and "Traceback" not in res.output
    res = run(["mix", "--customer", c, "-o", "y.wav"], tmp_path)
    assert res.exit_code == 2 and "give both --customer and --agent" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"start_time": "2026-11-02T15:04:05Z", "participants": [
        {"role": "customer", "audio": c, "join": 5, "leave": 1},
        {"role": "boss", "audio": "missing.wav", "join": 0, "leave": 3}]}))
    res = run(["mix", "--conference", str(bad), "-o", "out", "--json"], tmp_path)
    assert res.exit_code == 2
    err = json.loads(res.output)
    assert {e["path"] for e in err["errors"]} == {"participants[0].leave", "participants[1].role", "participants[1].audio"}
    res = run(["mix", "--conference", str(bad), "--customer", c, "-o", "out"], tmp_path)
    assert res.exit_code == 2 and "not both" in res.output
