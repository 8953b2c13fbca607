"""deploy/serve: the Kubernetes manifests are valid against the Kubernetes schemas
(offline), probe /v1/health and run as non-root; the compose file pairs the service with
Redis; the Dockerfile's install, start and health-check commands work in a clean virtual
environment (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serve_testing import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "deploy" / "serve"
K8S_VERSION = "1.33.0"


def manifests() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((SERVE / "k8s").glob("*.yaml"))}


def test_kubernetes_manifests_are_valid():
    import kubernetes_validate

    found = manifests()
    assert {m["kind"] for m in found.values()} == {"ConfigMap", "Secret", "Deployment", "Service"}
    for name, doc in found.items():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any schema error
    broken = json.loads(json.dumps(found["deployment.yaml"]))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_deployment_probes_health_and_runs_unprivileged():
    dep = manifests()["deployment.yaml"]
    pod = dep["spec"]["template"]["spec"]
    [c] = pod["containers"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] == "/v1/health"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert {e["configMapRef"]["name"] for e in c["envFrom"] if "configMapRef" in e} == {"idr-serve"}
    assert {e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e} == {"idr-serve"}
    secret = manifests()["secret.yaml"]["stringData"]
    assert "REDIS_URL" in secret and "REDIS_URL" not in manifests()["configmap.yaml"]["data"]
    # Every setting the ConfigMap sets is one the service reads.
    from idr.settings import ServeSettings

    names = {a.upper() for f in ServeSettings.model_fields.values()
             for a in (getattr(f.validation_alias, "choices", None) or [])}
    names |= {f"IDR_{n.upper()}" for n in ServeSettings.model_fields} | {"IDR_DB", "IDR_LOG_LEVEL"}
    assert set(manifests()["configmap.yaml"]["data"]) <= names


def test_compose_pairs_the_service_with_redis():
    compose = yaml.safe_load((SERVE / "docker-compose.yml").read_text())
    svc = compose["services"]["idr-serve"]
    assert svc["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert (SERVE / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == (SERVE / "Dockerfile").resolve()
    assert all(v.endswith(":ro") for v in svc["volumes"])


def _dockerfile() -> dict:
    text = (SERVE / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    out: dict = {"RUN": [], "ENV": {}, "COPY": []}
    for line in lines:
        op, _, rest = line.partition(" ")
        if op in ("RUN", "COPY"):
            out[op].append(rest)
        elif op == "ENV":
            out["ENV"].update(dict(kv.split("=", 1) for kv in shlex.split(rest)))
        else:
            out[op] = rest
    return out


def test_dockerfile_user_and_healthcheck():
    d = _dockerfile()
    assert d["USER"] not in ("root", "0") and "HEALTHCHECK" in d and "/v1/health" in d["HEALTHCHECK"]
    assert json.loads(d["CMD"]) == ["idr", "serve"]


@pytest.mark.slow
def test_dockerfile_commands_work_in_a_clean_venv(tmp_path, demo):
    """The image's steps, with /opt/idr and /src moved into a temporary folder: COPY, the
    pip install RUN line, then CMD with the image's ENV, answered by HEALTHCHECK."""
    d = _dockerfile()
    src, prefix = tmp_path / "src", tmp_path / "opt-idr"
    src.mkdir()
    for copy in d["COPY"]:
        *items, _ = copy.split()
        for item in items:
            (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, src / item)
    [install] = [r for r in d["RUN"] if "pip install" in r]
    command = install.replace("/opt/idr", str(prefix)).replace("python -m venv", f"{sys.executable} -m venv")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))},
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    r = subprocess.run(["bash", "-c", command], cwd=src, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    port = free_port()
    image_env = {k: v.replace("/opt/idr", str(prefix)).replace("$PATH", os.environ["PATH"])
                 for k, v in d["ENV"].items()}
    run_env = {**env, **image_env, "IDR_DB": str(demo), "IDR_SERVE_HOST": "127.0.0.1", "IDR_SERVE_PORT": str(port)}
    health = json.loads(re.search(r"CMD (\[.*\])", d["HEALTHCHECK"]).group(1))
    health = [c.replace("8080", str(port)) for c in health]
    server = subprocess.Popen(json.loads(d["CMD"]), cwd=tmp_path, env=run_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(lambda: subprocess.run(health, env=run_env, capture_output=True, timeout=10).returncode == 0,
                   timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert Path(shutil.which("idr", path=run_env["PATH"])).is_relative_to(prefix)
