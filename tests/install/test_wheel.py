"""The package as a user installs it, not the checkout: the sdist and the wheel are built, the wheel goes
into a fresh venv with no extras (plus the user's own openai client), and everything runs from another
directory, so that package data, entry points, the pricing table and the report template can only come from
the wheel. Each case below failed on the main branch before the install story was fixed (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("openai_app.py")
EXAMPLE_CALLS = 13  # the example agent's LLM calls (examples/support_agent.py)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(work / "home")
    (work / "home").mkdir()
    dist = work / "dist"
    built = _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist),
                  str(ROOT)], work, env)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    venv = work / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], work, env)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    # no extras; openai and httpx are the application's own libraries
    pip = _run([str(py), "-m", "pip", "install", "-q", str(wheel), "openai", "httpx"], work, env)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return {"work": work, "env": env, "py": py, "bin": venv / "bin", "wheel": wheel, "sdist": sdist}


def _usage(inst: dict[str, Any], home: Path) -> dict[str, Any]:
    out = _run([str(inst["bin"] / "agentkit"), "usage", "stats", "--json", "--home", str(home)], inst["work"],
               inst["env"])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["total"]


def test_the_wheel_carries_its_data_and_the_sdist_its_sources(installed: dict[str, Any]) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert "otel_agentkit/instrument/pricing.json" in names and "otel_agentkit/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(installed["wheel"]).read(entry_points).decode()
    assert "opentelemetry_pre_instrument" in text and "agentkit = otel_agentkit.cli.main:main" in text
    with tarfile.open(installed["sdist"]) as sdist:
        assert any(n.endswith("otel_agentkit/runtime.py") for n in sdist.getnames())
    where = _run([str(installed["py"]), "-c", "import otel_agentkit; print(otel_agentkit.__file__)"],
                 installed["work"], installed["env"])
    assert where.stdout.startswith(str(installed["work"] / "venv")), where.stdout  # not the checkout


def test_help_and_the_example_from_the_wheel(installed: dict[str, Any]) -> None:
    helped = _run([str(installed["bin"] / "agentkit"), "--help"], installed["work"], installed["env"])
    assert helped.returncode == 0 and "usage" in helped.stdout
    home = installed["work"] / "example-home"
    env = {**installed["env"], "AGENTKIT_HOME": str(home)}
    ran = _run([str(installed["py"]), str(ROOT / "examples" / "support_agent.py")], installed["work"], env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    total = _usage(installed, home)
    assert total["calls"] == EXAMPLE_CALLS and total["unpriced_calls"] == 0 and total["cost_usd"] > 0


@pytest.mark.parametrize("mode", ["init", "init-twice"])
def test_auto_instrumentation_on_a_plain_install(installed: dict[str, Any], mode: str) -> None:
    home = installed["work"] / f"auto-{mode}"
    env = {**installed["env"], "AGENTKIT_HOME": str(home)}
    ran = _run([str(installed["py"]), str(APP), mode], installed["work"], env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.splitlines()[-1]) == {"served": 3}
    total = _usage(installed, home)
    assert (total["calls"], total["input_tokens"], total["output_tokens"]) == (3, 33, 6)
    warned = [line for line in ran.stderr.splitlines() if "init() called again" in line]
    assert len(warned) == (1 if mode == "init-twice" else 0) and (not warned or "service_name='other'" in warned[0])


def test_zero_code_without_distro_records_every_call_and_says_nothing(installed: dict[str, Any]) -> None:
    """The README's zero-code command, literally: opentelemetry-instrument (installed with the package), no
    opentelemetry-distro, no init() in the application."""
    home = installed["work"] / "zero-code"
    env = {**installed["env"], "AGENTKIT_HOME": str(home), "OTEL_SERVICE_NAME": "zero-code-app"}
    ran = _run([str(installed["bin"] / "opentelemetry-instrument"), str(installed["py"]), str(APP), "plain"],
               installed["work"], env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stderr == ""  # no noise at start (no "not installed" line for anthropic, no traceback)
    total = _usage(installed, home)
    assert (total["calls"], total["input_tokens"], total["output_tokens"]) == (3, 33, 6)
    traces = "".join(p.read_text() for p in (home / "telemetry").glob("traces-*.jsonl"))
    assert '"stringValue":"zero-code-app"' in traces.replace(" ", "")  # OTEL_SERVICE_NAME on the resource


@pytest.mark.parametrize("code, extra", [
    ("agentkit.init(exporters='otlp')", "otlp"),
    ("agentkit.init(exporters='prometheus')", "prometheus"),
    ("agentkit.init(alerts='rules.yaml')", "yaml"),
])
def test_a_missing_extra_is_one_line_naming_it(installed: dict[str, Any], code: str, extra: str) -> None:
    (installed["work"] / "rules.yaml").write_text("rules: []\n")
    ran = _run([str(installed["py"]), "-c", f"import otel_agentkit as agentkit\n{code}"], installed["work"],
               {**installed["env"], "AGENTKIT_HOME": str(installed["work"] / "extra-home")})
    assert ran.returncode != 0
    last = ran.stderr.strip().splitlines()[-1]
    assert f"pip install 'otel-agentkit[{extra}]'" in last, ran.stderr


def test_a_missing_extra_named_in_the_environment_warns_and_the_app_goes_on(installed: dict[str, Any]) -> None:
    home = installed["work"] / "env-extra"
    env = {**installed["env"], "AGENTKIT_HOME": str(home), "AGENTKIT_EXPORTERS": "otlp,jsonl"}
    ran = _run([str(installed["py"]), str(APP), "init"], installed["work"], env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    lines = [line for line in ran.stderr.splitlines() if "otel-agentkit[otlp]" in line]
    assert len(lines) == 1 and "AGENTKIT_EXPORTERS" in lines[0]
    assert _usage(installed, home)["calls"] == 3
