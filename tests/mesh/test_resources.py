"""WasmPlugin and Secret parsing against Istio's real CRD schema (fetched through the Go module proxy)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.mesh.conftest import wasmplugin
from workshop.env import mesh
from workshop.env.mesh import cluster, crd
from workshop.env.mesh.local import WORKLOAD

URL = "oci://127.0.0.1:5000/wasm-workshop/filter:v1"


def _load(tmp_path: Path, text: str) -> list:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return mesh.load_file(path)


def _refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(mesh.MeshError) as caught:
        _load(tmp_path, text)
    return str(caught.value) + " | " + caught.value.hint


def test_the_crd_comes_from_istio_api(tmp_path: Path) -> None:
    path = crd.fetch_crd()
    assert path.is_file() and crd.ISTIO_API_VERSION in str(path)
    assert "phase" in crd.schema()["properties"]["spec"]["properties"]


def test_a_good_wasmplugin(tmp_path: Path) -> None:
    [plugin] = _load(tmp_path, wasmplugin(URL, extra="  priority: 5\n  failStrategy: FAIL_OPEN\n"))
    assert plugin.key == "default/add-headers" and WORKLOAD.selected_by(plugin)
    assert plugin.plugin_config == '{"headers":{"x-team":"blue"}}' and plugin.priority == 5
    assert plugin.pull_policy == "IfNotPresent"
    [latest] = _load(tmp_path, wasmplugin(URL.replace(":v1", ":latest")))
    assert latest.pull_policy == "Always"


def test_wrong_api_version_or_kind(tmp_path: Path) -> None:
    assert "apiVersion 'extensions.istio.io/v1beta1'" in _refused(tmp_path, wasmplugin(URL).replace("v1alpha1", "v1beta1"))
    assert "kind 'EnvoyFilter'" in _refused(tmp_path, wasmplugin(URL).replace("kind: WasmPlugin", "kind: EnvoyFilter"))


def test_an_unknown_phase(tmp_path: Path) -> None:
    message = _refused(tmp_path, wasmplugin(URL).replace("phase: STATS", "phase: LOGGING"))
    assert "spec.phase is 'LOGGING'; Istio accepts" in message and "AUTHN" in message


def test_both_selector_and_target_refs(tmp_path: Path) -> None:
    message = _refused(tmp_path, wasmplugin(URL, extra="  targetRefs:\n  - kind: Service\n    name: httpbin\n"))
    assert "only one of targetRefs or selector" in message


def test_unknown_scheme_and_fields(tmp_path: Path) -> None:
    assert "scheme ftp://" in _refused(tmp_path, wasmplugin("ftp://127.0.0.1/filter.wasm"))
    assert "unknown field(s) pluginConfigs" in _refused(tmp_path, wasmplugin(URL, extra="  pluginConfigs: {}\n"))


def test_a_sha256_yaml_reads_as_a_number(tmp_path: Path) -> None:
    assert "put it in quotes" in _refused(tmp_path, wasmplugin(URL, extra="  sha256: " + "1" * 64 + "\n"))


def test_a_secret_keeps_its_login_out_of_sight(tmp_path: Path) -> None:
    auth = base64.b64encode(b"learner:s3cret-pw").decode()
    doc = {"auths": {"127.0.0.1:5001": {"auth": auth}}}
    text = ("apiVersion: v1\nkind: Secret\nmetadata: {name: login}\ntype: kubernetes.io/dockerconfigjson\n"
            f"data:\n  .dockerconfigjson: {base64.b64encode(json.dumps(doc).encode()).decode()}\n")
    [secret] = _load(tmp_path, text)
    assert secret.authorization("127.0.0.1:5001") == f"Basic {auth}"
    assert secret.authorization("127.0.0.1:5000") is None
    assert "s3cret" not in repr(secret) and auth not in repr(secret)
    assert "kubernetes.io/dockerconfigjson" in _refused(tmp_path, text.replace("kubernetes.io/dockerconfigjson", "Opaque"))


def test_kubectl_missing_means_the_local_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster.shutil, "which", lambda _name: None)
    assert isinstance(mesh.choose(), mesh.LocalMesh)
    with pytest.raises(mesh.MeshError, match="kubectl is not installed"):
        mesh.choose("cluster")


def test_a_context_without_istio_means_the_local_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster.shutil, "which", lambda _name: "/usr/bin/kubectl")
    calls: list[list[str]] = []

    def no_crd(argv, timeout):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        if argv[1:3] == ["config", "current-context"]:
            return 0, "kind-wasm\n"
        return 1, 'Error from server (NotFound): customresourcedefinitions "wasmplugins.extensions.istio.io" not found'

    assert cluster.detect(no_crd) is None
    assert calls[1] == ["/usr/bin/kubectl", "--context", "kind-wasm", "get", "crd", cluster.CRD_NAME, "-o", "name"]
    with pytest.raises(mesh.MeshError, match="has no WasmPlugin CRD"):
        cluster.detect(no_crd, explain=True)


def test_a_cluster_with_istio_and_its_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cluster.shutil, "which", lambda _name: "/usr/bin/kubectl")
    seen: list[list[str]] = []

    def istio(argv, timeout):  # type: ignore[no-untyped-def]
        seen.append(list(argv))
        if "current-context" in argv:
            return 0, "kind-wasm"
        if "apply" in argv:
            return 0, "wasmplugin.extensions.istio.io/add-headers serverside-applied"
        if "request" in argv:
            return 0, json.dumps({"configs": [{"ecds_filters": [{"ecds_filter": {"name": "default.add-headers"}}]}]})
        if "curl" in argv:
            return 0, "HTTP/1.1 200 OK\nx-team: blue\nserver: envoy\n"
        return 0, "customresourcedefinition.apiextensions.k8s.io/wasmplugins.extensions.istio.io"

    target = cluster.detect(istio)
    assert isinstance(target, cluster.ClusterTarget) and target.context == "kind-wasm"
    path = tmp_path / "wp.yaml"
    path.write_text(wasmplugin(URL))
    [outcome] = target.apply(path)
    assert outcome.action == "serverside-applied"
    assert seen[-1] == ["/usr/bin/kubectl", "--context", "kind-wasm", "apply", "--namespace", "default", "--server-side",
                        "--field-manager", "workshop", "-f", str(path)]
    assert target.ecds_filters() == ["default.add-headers"]
    assert seen[-1][3:8] == ["exec", "--namespace", "default", "deploy/httpbin", "-c"]
    assert target.request_headers()["x-team"] == "blue"
    assert "http://httpbin.default:8000/get" in seen[-1]
