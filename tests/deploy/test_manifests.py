"""The Kubernetes manifests, checked without a cluster.

Every overlay renders with `kubectl kustomize`; the rendered objects validate against
the Kubernetes schemas (kubernetes-validate, strict; Strimzi's custom resources are
skipped by apiVersion, and only they); every service is hardened, probed and bounded;
the topics, the autoscalers, the settings and the telemetry wiring agree with the code.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from quorum_common.events import Topics
from quorum_common.kafka import PARTITIONS
from quorum_devtools.platform import DEFAULT_HTTP_PORT, DEFAULT_PORTS, SERVICES
from quorum_gateway.settings import GatewaySettings
from quorum_ideas.settings import IdeasSettings
from quorum_notifications.settings import NotificationsSettings
from quorum_validation.settings import ValidationSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
# The oldest Kubernetes we claim to run on (native gRPC probes are GA since 1.27) and
# the kubectl of the CI machine.
KUBERNETES_VERSIONS = ("1.29.0", "1.32.0")
# Custom resources have no schema in kubernetes-validate; these are all we use.
CUSTOM_RESOURCES = {
    ("kafka.strimzi.io/v1", kind) for kind in ("Kafka", "KafkaNodePool", "KafkaTopic")
}

SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "ideas": IdeasSettings,
    "validation": ValidationSettings,
    "notifications": NotificationsSettings,
}
# What each service's consumer group reads (see each service's __main__.py).
CONSUMES = {
    "ideas": ["validation"],
    "validation": ["ideas"],
    "notifications": ["ideas", "validation"],
    "gateway": ["ideas", "validation", "notifications"],
}
# Variables the manifests set for the platform rather than for a settings class.
DEPLOYMENT_VARIABLES = {
    "K8S_POD_NAME",
    "K8S_NAMESPACE_NAME",
    "K8S_NODE_NAME",
    "DEPLOYMENT_ENVIRONMENT",
}
# Consumers that must scale out on their own.
AUTOSCALED = ("validation", "notifications")

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)

Doc = dict[str, Any]


@functools.cache
def _render(overlay: str) -> tuple[Doc, ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


class Rendered:
    """One overlay's objects, with lookups by kind and name."""

    def __init__(self, overlay: str) -> None:
        self.overlay = overlay
        self.docs = _render(overlay)

    def all(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        found = [d for d in self.all(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def config_map(self, name: str) -> dict[str, str]:
        """A generated ConfigMap's data, found by its name before the hash suffix."""
        found = [
            d
            for d in self.all("ConfigMap")
            if re.fullmatch(rf"{re.escape(name)}(-[a-z0-9]{{10}})?", d["metadata"]["name"])
        ]
        assert len(found) == 1, f"{self.overlay}: ConfigMap {name} ({len(found)} found)"
        return dict(found[0].get("data", {}))

    def env(self, service: str) -> dict[str, object]:
        """The service container's environment: ConfigMap values, or the valueFrom."""
        pod = self.get("Deployment", f"quorum-{service}")["spec"]["template"]["spec"]
        container = _main_container(pod, service)
        env: dict[str, object] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                name = source["configMapRef"]["name"]
                data = next(d for d in self.all("ConfigMap") if d["metadata"]["name"] == name)
                env.update(data.get("data", {}))
        for item in container.get("env", []):
            env[item["name"]] = item.get("value", item.get("valueFrom"))
        return env

    def topics(self) -> dict[str, Doc]:
        return {t["spec"]["topicName"]: t for t in self.all("KafkaTopic")}


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return Rendered(request.param)


def _main_container(pod: Doc, service: str) -> Doc:
    return next(c for c in pod["containers"] if c["name"] == service)


def _containers(pod: Doc) -> Iterator[Doc]:
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def test_there_are_dev_and_prod_overlays() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_every_overlay_renders_into_its_own_namespace(rendered: Rendered) -> None:
    namespaces = rendered.all("Namespace")
    assert len(namespaces) == 1
    namespace = namespaces[0]["metadata"]["name"]
    for doc in rendered.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, doc["metadata"]["name"]
    keys = [(d["kind"], d["metadata"]["name"]) for d in rendered.docs]
    assert len(keys) == len(set(keys)), "an object is defined twice"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_objects_validate_against_the_kubernetes_schemas(rendered: Rendered, version: str) -> None:
    problems = []
    for doc in rendered.docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            problems.append(f"{where}: {error.message} at {path}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{where}: {error.message}")
    assert not problems, "\n".join(problems)


def test_strimzi_resources_form_one_kraft_cluster(rendered: Rendered) -> None:
    """The objects the schema check skips, checked for what matters here."""
    (kafka,) = rendered.all("Kafka")
    cluster = kafka["metadata"]["name"]
    pools = rendered.all("KafkaNodePool")
    assert pools
    for resource in [*pools, *rendered.all("KafkaTopic")]:
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    # KRaft: some node is a controller (no ZooKeeper), and the Topic Operator runs.
    assert any("controller" in pool["spec"]["roles"] for pool in pools)
    assert "topicOperator" in kafka["spec"]["entityOperator"]
    assert "zookeeper" not in kafka["spec"]
    bootstrap = str(rendered.env("ideas")["KAFKA_BOOTSTRAP_SERVERS"])
    assert bootstrap == f"{cluster}-kafka-bootstrap:9092"  # the Service Strimzi creates


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_probed_bounded_and_unprivileged(rendered: Rendered, service: str) -> None:
    name = f"quorum-{service}"
    deployment = rendered.get("Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert pod["serviceAccountName"] == name
    rendered.get("ServiceAccount", name)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"

    for container in _containers(pod):
        which = f"{name}/{container['name']}"
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{which}: {bound}"
        security = container.get("securityContext", {})
        assert security.get("allowPrivilegeEscalation") is False, which
        assert security.get("readOnlyRootFilesystem") is True, which
        assert security.get("runAsNonRoot", pod["securityContext"]["runAsNonRoot"]) is True
        assert "ALL" in security.get("capabilities", {}).get("drop", []), which

    main = _main_container(pod, service)
    port = DEFAULT_PORTS[service]
    # The gateway also serves the same API over HTTP/JSON, on a port of its own.
    http = [DEFAULT_HTTP_PORT] if service == "gateway" else []
    assert [p["containerPort"] for p in main["ports"]] == [port, *http]
    env = rendered.env(service)
    assert env[f"{service.upper()}_GRPC_PORT"] == str(port)
    assert env[f"{service.upper()}_GRPC_HOST"] == "0.0.0.0"  # reachable from the kubelet
    if http:
        assert env["GATEWAY_HTTP_PORT"] == str(DEFAULT_HTTP_PORT)
        assert env["GATEWAY_HTTP_HOST"] == "0.0.0.0"
    # Native gRPC probes against grpc.health.v1 on the service's port.
    assert main["readinessProbe"]["grpc"]["port"] == port
    assert main["startupProbe"]["grpc"]["port"] == port
    liveness = main["livenessProbe"]
    assert liveness.get("grpc", liveness.get("tcpSocket", {})).get("port") == port

    service_object = rendered.get("Service", name)
    assert service_object["spec"]["selector"].items() <= labels.items()
    assert [p["port"] for p in service_object["spec"]["ports"]] == [port, *http]
    budget = rendered.get("PodDisruptionBudget", name)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("service", SERVICES)
def test_configuration_names_only_settings_the_service_has(
    rendered: Rendered, service: str
) -> None:
    known = {field.upper() for field in SETTINGS[service].model_fields}
    env = rendered.env(service)
    unknown = {
        name
        for name in env
        if name not in known and name not in DEPLOYMENT_VARIABLES and not name.startswith("OTEL_")
    }
    assert not unknown, f"quorum-{service} sets variables no setting reads: {sorted(unknown)}"
    # Credentials come from Secrets, never from a ConfigMap.
    assert env["MONGODB_URI"] == {
        "secretKeyRef": {"key": "uri", "name": _secret_name(rendered, f"quorum-{service}-mongodb")}
    }


def _secret_name(rendered: Rendered, name: str) -> str:
    generated = [
        s["metadata"]["name"]
        for s in rendered.all("Secret")
        if re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", s["metadata"]["name"])
    ]
    return generated[0] if generated else name


def test_the_gateway_reaches_the_backends_through_their_services(rendered: Rendered) -> None:
    env = rendered.env("gateway")
    # Every *_address setting of the gateway names a backend; none may keep its
    # loopback default on a cluster. Each is a headless Service resolved by gRPC's DNS
    # resolver, one address per replica, so the gateway balances over the replicas.
    backends = [
        f.removesuffix("_address") for f in GatewaySettings.model_fields if f.endswith("_address")
    ]
    assert backends
    for backend in backends:
        assert f"{backend.upper()}_ADDRESS" in env, f"the gateway has no {backend.upper()}_ADDRESS"
        address = str(env[f"{backend.upper()}_ADDRESS"])
        assert address.startswith("dns:///"), f"{backend}: {address} is not balanced"
        host, _, port = address.removeprefix("dns:///").rpartition(":")
        service = rendered.get("Service", host)
        assert service["spec"].get("clusterIP") == "None", f"{host} is not headless"
        assert int(port) in [p["port"] for p in service["spec"]["ports"]]
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": f"quorum-{backend}"}
        # Connections end now and then, so a new replica gets calls too.
        assert float(str(rendered.env(backend)["GRPC_MAX_CONNECTION_AGE_SECONDS"])) > 0


def test_every_topic_the_services_use_is_declared(rendered: Rendered) -> None:
    topics = rendered.topics()
    names = Topics()
    wanted = {names.ideas, names.validation, names.notifications} | {
        names.dead_letter(consumer) for consumer in CONSUMES
    }
    assert wanted <= set(topics), f"missing KafkaTopics: {sorted(wanted - set(topics))}"
    brokers = sum(
        pool["spec"]["replicas"]
        for pool in rendered.all("KafkaNodePool")
        if "broker" in pool["spec"]["roles"]
    )
    for name, topic in topics.items():
        spec = topic["spec"]
        assert spec["partitions"] >= PARTITIONS, name
        assert spec["replicas"] <= brokers, name
        in_sync = int(spec["config"]["min.insync.replicas"])
        if spec["replicas"] == 1:
            assert in_sync == 1, name
        else:
            # More than one copy acknowledges a write (acks=all), and one broker may be
            # down without stopping writes.
            assert 1 < in_sync < spec["replicas"], name


def test_consumers_scale_no_further_than_their_partitions(rendered: Rendered) -> None:
    topics = rendered.topics()
    names = Topics()
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.all("HorizontalPodAutoscaler")
    }
    for service in AUTOSCALED:
        assert f"quorum-{service}" in autoscalers, f"quorum-{service} has no autoscaler"
    for service, sources in CONSUMES.items():
        name = f"quorum-{service}"
        if name in autoscalers:
            most = autoscalers[name]["spec"]["maxReplicas"]
            assert "replicas" not in rendered.get("Deployment", name)["spec"], (
                f"{name}: the autoscaler owns the replica count"
            )
        else:
            most = rendered.get("Deployment", name)["spec"].get("replicas", 1)
        for source in sources:
            partitions = topics[getattr(names, source)]["spec"]["partitions"]
            assert most <= partitions, (
                f"{rendered.overlay}: {name} may run {most} replicas, "
                f"but {getattr(names, source)} has {partitions} partitions"
            )


def test_traces_from_every_service_reach_jaeger(rendered: Rendered) -> None:
    collector = yaml.safe_load(rendered.config_map("otel-collector")["config.yaml"])
    receiver_port = int(
        collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[1]
    )
    for service in SERVICES:
        endpoint = str(rendered.env(service)["OTEL_EXPORTER_OTLP_ENDPOINT"])
        match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", endpoint)
        assert match, endpoint
        target = _target(rendered, match[1], int(match[2]))
        assert target == ("otel-collector", receiver_port), f"quorum-{service} sends to {target}"

    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    jaeger = yaml.safe_load(rendered.config_map("jaeger")["config.yaml"])
    jaeger_port = int(
        jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[1]
    )
    destinations = set()
    for exporter in pipeline["exporters"]:
        if exporter.split("/")[0] == "otlp":
            host, port = collector["exporters"][exporter]["endpoint"].rsplit(":", 1)
            destinations.add(_target(rendered, host, int(port)))
    assert ("jaeger", jaeger_port) in destinations
    assert "jaeger_storage_exporter" in jaeger["service"]["pipelines"]["traces"]["exporters"]


def _target(rendered: Rendered, service_name: str, port: int) -> tuple[str, int]:
    """(the app a Service's port leads to, the container port it targets)."""
    service = rendered.get("Service", service_name)
    entry = next(p for p in service["spec"]["ports"] if p["port"] == port)
    app = service["spec"]["selector"]["app.kubernetes.io/name"]
    pod = rendered.get("Deployment", app)["spec"]["template"]["spec"]
    named = {p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])}
    target = entry.get("targetPort", port)
    return app, named[target] if isinstance(target, str) else int(target)


def _referenced_secrets(rendered: Rendered) -> set[str]:
    names: set[str] = set()
    for doc in rendered.docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") if isinstance(spec, dict) else None
        if not pod:
            continue
        for container in _containers(pod):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    names.add(ref["name"])
            for source in container.get("envFrom", []):
                ref = source.get("secretRef")
                if ref and not ref.get("optional"):
                    names.add(ref["name"])
        for volume in pod.get("volumes", []):
            if "secret" in volume and not volume["secret"].get("optional"):
                names.add(volume["secret"]["secretName"])
    return names


def test_tls_ingresses_front_both_public_ports_of_the_gateway(rendered: Rendered) -> None:
    service = rendered.get("Service", "quorum-gateway")
    fronted: dict[str, Doc] = {}
    for ingress in rendered.all("Ingress"):
        spec = ingress["spec"]
        covered = {host for entry in spec.get("tls", []) for host in entry["hosts"]}
        assert all(entry.get("secretName") for entry in spec.get("tls", [])), ingress
        for rule in spec["rules"]:
            assert rule["host"] in covered, f"{rule['host']} is served without TLS"
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == "quorum-gateway"
                fronted[backend["port"]["name"]] = ingress
    assert set(fronted) == {port["name"] for port in service["spec"]["ports"]} == {"grpc", "http"}
    protocol = "nginx.ingress.kubernetes.io/backend-protocol"
    assert fronted["grpc"]["metadata"]["annotations"][protocol] == "GRPC"
    assert fronted["http"]["metadata"]["annotations"][protocol] == "HTTP"
    # Server-sent events pass through unbuffered.
    assert (
        fronted["http"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"]
        == "off"
    )


def test_prod_documents_the_tls_secret_of_its_ingresses() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for ingress in Rendered("prod").all("Ingress"):
        for entry in ingress["spec"]["tls"]:
            assert f"`{entry['secretName']}`" in readme, entry["secretName"]


def test_dev_generates_every_secret_it_uses() -> None:
    dev = Rendered("dev")
    generated = {s["metadata"]["name"] for s in dev.all("Secret")}
    assert _referenced_secrets(dev) <= generated


def test_prod_commits_no_secret_and_documents_each_one_it_needs() -> None:
    prod = Rendered("prod")
    assert not prod.all("Secret"), "production credentials do not belong in the repository"
    readme = (DEPLOY / "README.md").read_text()
    undocumented = {name for name in _referenced_secrets(prod) if name not in readme}
    assert not undocumented, f"deploy/README.md does not name {sorted(undocumented)}"


def test_prod_images_are_pinned() -> None:
    for doc in Rendered("prod").docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        for container in _containers(pod) if pod else ():
            image = container["image"]
            assert re.search(r":[\w.-]+$|@sha256:", image), image
            assert not image.endswith(":latest"), image


def test_the_dockerfile_knows_every_workspace_member() -> None:
    """uv reads the lock only with every member's pyproject.toml present."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = sorted(
        path.parent.relative_to(ROOT).as_posix()
        for pattern in workspace["members"]
        for path in ROOT.glob(f"{pattern}/pyproject.toml")
    )
    assert members
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in dockerfile, member
    assert (
        'uv sync --frozen --no-dev --no-install-workspace --package "quorum-${SERVICE}"'
        in dockerfile
    )
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
