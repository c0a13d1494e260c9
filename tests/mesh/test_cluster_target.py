"""The cluster target (a learner's own cluster with Istio) is the same kube code with another kubeconfig:
given the local mesh's kubeconfig it applies, reads, lists and deletes against the local API server. Its
reach into a workload needs a pod (kubectl port-forward, kubectl logs), which the local mesh has none of:
that it says so plainly is what can be tested here."""

from __future__ import annotations

import json

import pytest

from tests.mesh.conftest import ECDS, Image, MeshUp, wait_until, wasmplugin, workshop
from workshop.checking import mesh_status as status
from workshop.env.mesh_target import MeshUnreachable, Target, choose

pytestmark = pytest.mark.slow
NAME = "through-the-cluster-target"


def test_the_cluster_target_applies_reads_and_deletes_on_the_api_server(on_mesh: MeshUp, image: Image) -> None:
    target = Target.cluster(kubeconfig=str(on_mesh.kubeconfig))
    assert target.name == "cluster" and target.kube.kubeconfig == on_mesh.kubeconfig
    assert choose("cluster").kube.kubeconfig == on_mesh.kubeconfig, "with no --context, KUBECONFIG names the cluster"
    try:
        answer = target.kube.apply(wasmplugin(NAME, image.url, headers={"x-via": "cluster-target"}, extra="  phase: STATS\n"))
        assert answer.ok, answer.output
        got = target.kube.get("wasmplugins", NAME)
        assert got is not None and got["spec"]["url"] == image.url and got["spec"]["pluginConfig"] == {"headers": {"x-via": "cluster-target"}}
        listed = [r for r in status.resources(target) if r["name"] == NAME]
        assert len(listed) == 1 and listed[0].pop("changed") >= got["metadata"]["creationTimestamp"]
        assert listed == [{"kind": "WasmPlugin", "namespace": "default", "name": NAME, "url": image.url, "sha256": "",
                           "phase": "STATS", "priority": None, "failStrategy": "", "imagePullPolicy": "", "lua": False}]
        # the same API server as the local target: the local sidecar gets the filter the cluster target applied
        assert wait_until(lambda: status.view(Target.local()).filter_for("WasmPlugin", NAME), timeout=60)
        refused = target.kube.apply(wasmplugin("bad-scheme", "ftp://example.invalid/filter:v1"), dry_run=True)
        assert not refused.ok and "url must have schema one of" in refused.output, "the API server's words come back as they are"
        assert target.kube.delete("wasmplugins", NAME).ok
        assert wait_until(lambda: target.kube.get("wasmplugins", NAME) is None, timeout=15)
        assert not [r for r in status.resources(target) if r["name"] == NAME]
        assert wait_until(lambda: ECDS.format(NAME) not in {f.name for f in status.view(Target.local()).filters}, timeout=30)
    finally:
        target.kube.delete("wasmplugins", NAME)


def test_the_cluster_target_names_the_missing_pod(on_mesh: MeshUp) -> None:
    target = Target.cluster(kubeconfig=str(on_mesh.kubeconfig))
    with pytest.raises(MeshUnreachable, match="no pod labelled app=httpbin in namespace default"), target.reach():
        pass
    proc = workshop("mesh", "status", "--target", "cluster")  # what the API server holds is still shown
    assert proc.returncode == 1 and "no pod labelled app=httpbin" in proc.stdout, proc.stdout + proc.stderr
    assert "No WasmPlugin, TrafficExtension or EnvoyFilter is applied." in proc.stdout
    assert "Traceback" not in proc.stderr
    as_json = workshop("mesh", "status", "--target", "cluster", "--json")
    assert as_json.returncode == 1 and "no pod labelled app=httpbin" in json.loads(as_json.stdout)["problem"]
