"""The service is an optional extra: the core never imports it, and its commands say what to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from antiphon.errors import MissingDependency


def test_import_antiphon_does_not_load_the_service_stack():
    code = ("import sys, antiphon, antiphon.analysis, antiphon.cli; "
            "bad = [m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'alembic', 'antiphon.store') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn", "sqlalchemy"])
def test_serve_without_the_server_extra_says_how_to_install_it(monkeypatch, missing, tmp_path):
    from click.testing import CliRunner

    from antiphon.cli import main
    from antiphon.errors import SERVER_MODULES

    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    with pytest.raises(MissingDependency) as e:
        MissingDependency.require(SERVER_MODULES, "The HTTP service", "server")
    assert e.value.message == ("The HTTP service needs the optional 'server' extra: "
                               "pip install 'antiphon[server]'")
    assert e.value.to_dict()["status"] == 501
    r = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and e.value.message in r.output


def test_demo_without_the_server_extra_prints_the_reports_and_the_hint(monkeypatch, tmp_path):
    from antiphon.demo import DemoOptions, run_demo

    monkeypatch.setitem(sys.modules, "fastapi", None)
    lines = []
    run_demo(echo=lines.append, options=DemoOptions(data_dir=tmp_path / "demo"))
    assert "customer_talk_time" in "\n".join(lines)
    assert lines[-1] == ("Storing and showing the calls needs the optional 'server' extra: "
                         "pip install 'antiphon[server]'")
    assert not (tmp_path / "demo").exists()


def test_store_commands_without_the_extra(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from antiphon.cli import main

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    r = CliRunner().invoke(main, ["keys", "list", "--json", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "antiphon[server]" in r.output
