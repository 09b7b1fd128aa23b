"""The image's recipe without a Docker engine: lock files that match pyproject.toml, and the
Dockerfile's build stage run step by step on this machine from those locks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"


def pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` in a lock; each must carry a hash."""
    text = lock.read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", block)
        if m:
            assert "--hash=sha256:" in block, f"{lock.name}: {m[1]} has no hash"
            found[canonicalize_name(m[1].split("[")[0])] = m[2]
    return found


def test_locks_satisfy_pyproject_and_pin_what_ci_tests() -> None:
    """Every dependency of pyproject.toml is pinned, hashed and in range; the dev lock (CI) pins
    the runtime lock's (the image's) packages at the same versions; the build backend is locked."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime, dev, build = (pins(LOCKS / f"{n}.lock") for n in ("runtime", "dev", "build"))
    extras = project["project"]["optional-dependencies"]
    wanted = {
        "runtime.lock": (runtime, project["project"]["dependencies"] + extras["postgres"]),
        "dev.lock": (dev, project["project"]["dependencies"] + extras["postgres"] + extras["dev"]),
        "build.lock": (build, project["build-system"]["requires"]),
    }
    for lock, (pinned, requirements) in wanted.items():
        for line in requirements:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            assert name in pinned, f"{lock} lacks {req.name}: run `make lock`"
            assert req.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {req.name}=={pinned[name]}, outside {req.specifier}: run `make lock`"
            )
    assert {} == {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_has_a_build_stage_and_a_pinned_non_root_final_stage() -> None:
    """Both stages start from one base pinned by digest; the final one copies the venv, runs as
    uid 10001 and keeps a HEALTHCHECK; no pip runs there except to remove pip."""
    steps = _instructions((REPO / "Dockerfile").read_text())
    (arg,) = [rest for word, rest in steps if word == "ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", arg)
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"] == [steps[i][1] for i in froms]
    final = steps[froms[1] :]
    assert ("COPY", "--from=build /opt/shadow /opt/shadow") in final
    assert [("USER", "10001:10001")] == [s for s in final if s[0] == "USER"]
    assert any(word == "HEALTHCHECK" and "/healthz" in rest for word, rest in final)
    runs = " ".join(rest for word, rest in final if word == "RUN")
    assert "pip install" not in runs and "pip uninstall --yes --quiet pip setuptools wheel" in runs


@pytest.mark.timeout(900)  # downloads the locked wheels from PyPI when pip's cache is cold
@pytest.mark.slow
@pytest.mark.needs_network  # pip downloads the locked packages
def test_the_build_stage_installs_from_the_locks_into_a_venv_without_pip(tmp_path: Path) -> None:
    """The Dockerfile's build stage, its COPY and RUN steps run here in a scratch root: the locked
    dependencies install with --require-hashes, shadow's wheel builds with the locked backend,
    and the resulting venv runs `shadow` and holds no pip."""
    steps = _instructions((REPO / "Dockerfile").read_text())
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    build_stage = steps[froms[0] + 1 : froms[1]]
    root = tmp_path / "root"
    remap = {"/opt/": f"{root}/opt/", "/wheels": f"{root}/wheels", "/src": f"{root}/src"}

    def mapped(text: str) -> str:
        for old, new in remap.items():
            text = text.replace(old, new)
        return text

    # `python` and `pip` as in the base image: an interpreter and a pip that can target a venv.
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    (shims / "pip").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pip "$@"\n')
    (shims / "pip").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shims}:{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Skips only pip's bytecode compilation (half the time here); what installs is the same.
        "PIP_NO_COMPILE": "1",
    }
    workdir = root
    for word, rest in build_stage:
        if word == "WORKDIR":
            workdir = Path(mapped(rest))
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = rest.split()
            target = workdir / dest if not dest.startswith("/") else Path(mapped(dest))
            for src in sources:
                to = target / Path(src).name if dest.endswith("/") else target
                to.parent.mkdir(parents=True, exist_ok=True)
                if (REPO / src).is_dir():
                    shutil.copytree(REPO / src, to, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(REPO / src, to)
        elif word == "RUN":
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", mapped(rest)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert 0 == done.returncode, f"RUN {rest}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    venv = root / "opt/shadow"
    version = subprocess.run(
        [str(venv / "bin/python"), "-c", "import shadow.cli, psycopg; print(psycopg.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == version.returncode, version.stderr
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin/python"),
            "list",
            "--format=freeze",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        canonicalize_name(n): v for n, v in (line.split("==") for line in listed.splitlines())
    }
    runtime = pins(LOCKS / "runtime.lock")
    assert "pip" not in installed and "setuptools" not in installed
    assert {n: v for n, v in installed.items() if n in runtime} == {
        n: v for n, v in runtime.items() if n in installed
    }
    assert "shadow-cutover" in installed
