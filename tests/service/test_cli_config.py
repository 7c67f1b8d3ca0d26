"""Settings from env and TOML; the ingest, keys and jobs commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from antiphon.cli import main
from antiphon.config import ConfigError, load_settings


def test_defaults_and_precedence(tmp_path):
    s = load_settings(env={})
    assert s.data_dir == Path("antiphon-data") and s.auth is True and s.port == 8000 and s.workers == 1
    assert s.db_url.endswith("antiphon-data/antiphon.db") and s.db_url.startswith("sqlite:///")
    cfg = tmp_path / "antiphon.toml"
    cfg.write_text('data_dir = "/srv/a"\nport = 9000\nauth = false\npublic_url = "https://x.example/"\n')
    s = load_settings(cfg, env={"ANTIPHON_PORT": "9100"})
    assert s.data_dir == Path("/srv/a") and s.port == 9100 and s.auth is False
    assert s.public_url == "https://x.example"
    s = load_settings(env={"ANTIPHON_CONFIG": str(cfg), "ANTIPHON_AUTH": "on"}, port=9200)
    assert s.port == 9200 and s.auth is True
    s = load_settings(env={"ANTIPHON_DATABASE_URL": "postgresql://u:pw@db/antiphon"})
    assert s.db_url == "postgresql+psycopg://u:pw@db/antiphon"
    assert "pw" not in json.dumps(s.public())


def test_bad_settings_name_the_setting(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_settings(env={"ANTIPHON_PORT": "eighty"})
    assert e.value.problems[0].path == "ANTIPHON_PORT"
    with pytest.raises(ConfigError) as e:
        load_settings(env={"ANTIPHON_AUTH": "maybe"})
    assert "on/off" in e.value.message
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, env={})
    assert e.value.problems[0].path == "prot"
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError):
        load_settings(env={"ANTIPHON_PUBLIC_URL": "calls.example.com"})


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTIPHON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ANTIPHON_DATABASE_URL", raising=False)
    monkeypatch.delenv("ANTIPHON_CONFIG", raising=False)
    return tmp_path / "data"


def test_ingest_keys_and_jobs_commands(cli_env, harper, flex_dir):
    run = CliRunner().invoke
    r = run(main, ["ingest", str(harper[0]), "--task", str(flex_dir / "task_inbound_native.json"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["recording"] == "RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d" and out["status"] == "analyzed"
    assert out["metrics"]["talk_time"] > 0
    r = run(main, ["ingest", str(harper[1]), "--task", str(flex_dir / "invalid" / "bad_channels.json")])
    assert r.exit_code == 0 and "media[0].channels" in r.output
    r = run(main, ["keys", "create", "--name", "ci", "--json"])
    key = json.loads(r.output)
    assert set(key) == {"id", "secret"}
    r = run(main, ["keys", "list", "--json"])
    assert [k["id"] for k in json.loads(r.output)["keys"]] == [key["id"]]
    assert key["secret"] not in r.output
    assert run(main, ["keys", "revoke", key["id"]]).exit_code == 0
    r = run(main, ["keys", "revoke", "AKnope", "--json"])
    assert r.exit_code == 2 and json.loads(r.output)["status"] == 404
    r = run(main, ["jobs", "list", "--json"])
    jobs = json.loads(r.output)["jobs"]
    assert jobs and all(j["state"] == "done" for j in jobs)
    r = run(main, ["jobs", "retry", str(jobs[0]["id"])])
    assert r.exit_code == 0
    r = run(main, ["jobs", "list", "--state", "queued", "--json"])
    assert [j["id"] for j in json.loads(r.output)["jobs"]] == [jobs[0]["id"]]
    r = run(main, ["jobs", "retry", "12345"])
    assert r.exit_code == 2 and "no job 12345" in r.output


def test_ingest_refuses_a_bad_file_clearly(cli_env, tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not audio")
    r = CliRunner().invoke(main, ["ingest", str(bad), "--json"])
    assert r.exit_code == 2 and json.loads(r.output)["status"] == 422
