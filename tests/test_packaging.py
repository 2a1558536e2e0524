"""The set-up files agree with each other: pyproject, environment.yml, constraints, Makefile, README, CI."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_name(spec: str) -> str:
    name = re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_has_the_same_dependencies_as_pyproject():
    project = pyproject()["project"]
    wanted = set(map(requirement_name, project["dependencies"]))
    for extra in ("lab", "test"):
        wanted |= set(map(requirement_name, project["optional-dependencies"][extra]))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {requirement_name(d) for d in dep["pip"] if not d.startswith("-e")}
            assert any(d.replace(" ", "") == "-e.[lab,test]" for d in dep["pip"]), "pip section must install the package"
        else:
            conda.add(requirement_name(dep))
    conda -= {"python", "pip"}
    assert conda | pip == wanted, f"only in environment.yml: {(conda | pip) - wanted}; only in pyproject: {wanted - (conda | pip)}"
    assert not conda & pip


def test_lower_bounds_in_pyproject_and_exact_pins_only_in_constraints():
    project = pyproject()["project"]
    every = project["dependencies"] + [d for deps in project["optional-dependencies"].values() for d in deps]
    assert all(">=" in d and "==" not in d for d in every), every
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins["torch"] == "2.13.0"
    for dep in every:
        assert requirement_name(dep) in {requirement_name(p) for p in pins}, f"{dep} is not pinned in constraints.txt"


def test_makefile_has_the_documented_targets_and_they_bootstrap():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "update", "test", "course", "slides", "bench", "exercises"):
        match = re.search(rf"^{target}:(.*)$", makefile, re.M)
        assert match, f"make {target} is missing"
        assert "$(STAMP)" in match.group(1) or target == "test", f"make {target} must bootstrap the venv"
    assert "CNNLAB_QUICK=1" in makefile and "--nbval-lax" in makefile
    assert "-c constraints.txt" in makefile


def test_readme_leads_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_code = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1)
    assert "make lab" in first_code and "make test" in first_code
    for n in range(10):
        assert f"`0{n}_" in readme, f"lesson 0{n} missing from the course map"


def test_ci_script_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("make test")
    assert "dataset-fashion-mnist" in ci


def test_console_command_is_declared_and_works():
    assert pyproject()["project"]["scripts"]["cnnlab"] == "cnnlab.cli:main"
    out = subprocess.run([sys.executable, "-m", "cnnlab.cli", "data", "status"], capture_output=True, text=True,
                         check=True).stdout
    assert "Fashion-MNIST" in out and "sample" in out


def test_bundled_files_are_package_data():
    data_globs = pyproject()["tool"]["setuptools"]["package-data"]["cnnlab"]
    assert "data_files/*" in data_globs


@pytest.mark.parametrize("folder", ["cnnlab", "notebooks", "solutions", "tests"])
def test_no_unfinished_markers(folder):
    marker = "TO" + "DO"
    for path in (ROOT / folder).rglob("*.py"):
        assert marker not in path.read_text(encoding="utf-8"), path
