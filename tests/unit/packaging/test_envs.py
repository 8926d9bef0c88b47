import yaml

from tests.conftest import ROOT


def pins(lines):
    return {line.split("==")[0].lower(): line.split("==")[1] for line in lines}


def test_conda_env_matches_requirements():
    requirements = [
        line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    required = pins([line for line in requirements if line])
    assert all("==" in line for line in requirements if line), "every requirement is pinned with =="
    env = yaml.safe_load((ROOT / "envs" / "nntopo.yaml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    assert pins(pip_section) == required
    assert "python=3.11" in env["dependencies"]
