"""The frameworks under test are the versions scripts/provision/frameworks.sh pins, in the venv it says."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from tests.frameworks.conftest import OWN_VENVS

SCRIPT = Path(__file__).parents[2] / "scripts" / "provision" / "frameworks.sh"


def _pins(text: str) -> list[tuple[str, str]]:
    """(name, version) of each ``name==version`` or ``name[extras]==version`` pin."""
    return re.findall(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([A-Za-z0-9_.+-]+)", text)


def test_test_venv_has_the_pinned_frameworks():
    text = SCRIPT.read_text()
    block = re.search(r"^FRAMEWORKS_IN_TEST_VENV=\((.*?)^\)", text, re.S | re.M)
    assert block, "FRAMEWORKS_IN_TEST_VENV not found in frameworks.sh"
    pins = _pins(block.group(1))
    assert {"langchain-openai", "langchain-anthropic", "litellm"} <= {name for name, _ in pins}
    for name, version in pins:
        assert importlib.metadata.version(name) == version, name


def test_own_venvs_agree_with_the_provisioning_script():
    block = re.search(r"^declare -A FRAMEWORK_VENVS=\((.*?)^\)", SCRIPT.read_text(), re.S | re.M)
    assert block, "FRAMEWORK_VENVS not found in frameworks.sh"
    names = re.findall(r"\[([A-Za-z0-9_-]+)\]=", block.group(1))
    assert sorted(names) == sorted(OWN_VENVS)
    for name in names:
        assert (SCRIPT.parents[2] / "tests" / "frameworks" / f"test_{name}.py").is_file()
