"""The Kubernetes manifests: they build, validate, and run shadow the way docs/deploy.md says."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shadow.config import load_settings

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy/kubernetes"


def _validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_validate", KUBE / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validator = _validator()


def built(directory: Path) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in validator.build(directory)}


def run_validate(*dirs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KUBE / "validate.py"), *map(str, dirs)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_base_and_shards_overlay_build_and_validate() -> None:
    """Both kustomizations build and every object passes the Kubernetes and CRD schemas."""
    result = run_validate()
    assert 0 == result.returncode, result.stdout + result.stderr
    assert 2 == result.stdout.count("ok   ")


BROKEN = [
    # (file under deploy/kubernetes, text, replacement, what the validator must say)
    (
        "base/deployment.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFileSystem: true",
        "'readOnlyRootFileSystem' was unexpected",
    ),
    ("base/deployment.yaml", "failureThreshold: 360", "failureThreshold: many", "'many'"),
    ("base/deployment.yaml", "memory: 768Mi", "memory: 768MB", "is not a Kubernetes quantity"),
    ("base/service.yaml", "targetPort: http", "targetPort: htp", "targetPort htp"),
    ("base/servicemonitor.yaml", "      interval: 30s", "      intervall: 30s", "'intervall'"),
    ("base/servicemonitor.yaml", "port: http", "port: metrics", "endpoint port metrics"),
    ("base/prometheusrule.yaml", "for: 30m", "for: 30 minutes", "'30 minutes'"),
    ("base/kustomization.yaml", "- shadow.toml", "- shadow.tomll", "kustomize failed"),
    ("overlays/shards/service-shards.yaml", "component: shards", "name: shadow", "scraped twice"),
]


@pytest.mark.parametrize(("path", "old", "new", "says"), BROKEN)
def test_a_broken_manifest_fails_validation(
    tmp_path: Path, path: str, old: str, new: str, says: str
) -> None:
    """One wrong field, value or reference makes the check fail and name it."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUBE, copy)
    target = copy / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    build = copy / path.split("/")[0] if path.startswith("base") else copy / "overlays/shards"
    result = run_validate(build)
    assert 1 == result.returncode, result.stdout
    assert says in result.stdout, result.stdout


def _settings_of(pod: dict[str, Any], config: dict[str, Any], tmp_path: Path, **env: str) -> Any:
    """shadow's Settings as the pod would load them: its literal env, its mounted ConfigMap."""
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    for name, text in config["data"].items():
        (etc / name).write_text(text.replace("/etc/shadow/", f"{etc}/"))
    (container,) = pod["spec"]["containers"]
    values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    values.update(env)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            value = value.replace("/etc/shadow/", f"{etc}/")
            mp.setenv(name, value.replace("/var/lib/shadow/", f"{tmp_path}/"))
        return load_settings(Path(values["SHADOW_CONFIG"].replace("/etc/shadow/", f"{etc}/")))


def test_the_pod_loads_its_configmap_and_environment(tmp_path: Path) -> None:
    """The base's shadow.toml, waivers file and env are valid settings for `shadow serve`."""
    objs = built(KUBE / "base")
    settings = _settings_of(objs["Deployment"]["spec"]["template"], objs["ConfigMap"], tmp_path)
    assert settings.source.startswith("s3://")
    assert str(settings.ledger_target).endswith("/shadow.db")
    assert settings.waivers is not None and settings.waivers.is_file()
    assert ("0.0.0.0", 8000, None) == (settings.host, settings.port, settings.shard)


def test_each_shard_pod_judges_its_own_slice(tmp_path: Path) -> None:
    """Pod i of the StatefulSet (Kubernetes expands $(POD_INDEX) from its pod-index label) runs
    `--shard i/n` with n the replica count, on the PostgreSQL ledger."""
    objs = built(KUBE / "overlays/shards")
    sts = objs["StatefulSet"]
    n = sts["spec"]["replicas"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    env = [e["name"] for e in container["env"]]
    index = next(e for e in container["env"] if e["name"] == "POD_INDEX")
    assert (
        "metadata.labels['apps.kubernetes.io/pod-index']"
        == index["valueFrom"]["fieldRef"]["fieldPath"]
    )
    assert env.index("POD_INDEX") < env.index("SHADOW_SHARD")  # $(VAR) sees earlier vars only
    shard = next(e["value"] for e in container["env"] if e["name"] == "SHADOW_SHARD")
    shards = []
    for i in range(n):
        expanded = shard.replace("$(POD_INDEX)", str(i))
        settings = _settings_of(
            sts["spec"]["template"], objs["ConfigMap"], tmp_path, SHADOW_SHARD=expanded
        )
        shards.append(settings.shard_pair)
        assert str(settings.db).startswith("postgresql://")
    assert [(i, n) for i in range(n)] == shards
    assert "Deployment" not in objs and "PersistentVolumeClaim" not in objs


def test_pods_run_restricted_with_probes_that_cover_a_cold_backfill() -> None:
    """Every pod meets the restricted Pod Security profile; the startup probe waits for the first
    good scan for an hour before liveness may restart it; readiness and liveness are /healthz."""
    for directory in (KUBE / "base", KUBE / "overlays/shards"):
        objs = built(directory)
        workload = objs.get("Deployment") or objs["StatefulSet"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert 0 != pod["securityContext"]["runAsUser"]
        assert "RuntimeDefault" == pod["securityContext"]["seccompProfile"]["type"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False  # else SHADOW_PORT=tcp://... from the Service
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert (False, True, ["ALL"]) == (
                sc["allowPrivilegeEscalation"],
                sc["readOnlyRootFilesystem"],
                sc["capabilities"]["drop"],
            )
            assert {"cpu", "memory"} <= set(c["resources"]["requests"])
            assert "memory" in c["resources"]["limits"]
            startup = c["startupProbe"]
            assert "/readyz" == startup["httpGet"]["path"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 3600
            assert "/healthz" == c["readinessProbe"]["httpGet"]["path"]
            assert "/healthz" == c["livenessProbe"]["httpGet"]["path"]
    deployment = built(KUBE / "base")["Deployment"]["spec"]
    assert (1, "Recreate") == (deployment["replicas"], deployment["strategy"]["type"])
