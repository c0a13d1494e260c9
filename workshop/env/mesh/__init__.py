"""Istio's WasmPlugin for the labs: a local stand-in for Istio, or a real cluster through kubectl.

LOCAL_MESH_NOTE says plainly, for the CLI and the TUI, what the local mesh is and is not.

    from workshop.env import mesh
    target = mesh.choose()                          # LocalMesh(), or ClusterTarget when a cluster has Istio
    target.apply(Path("wasmplugin.yaml"))           # -> [Outcome(kind, name, action, detail, problem, hint)]
    target.status()                                 # workload, sidecar, plugins in force with images and digests
    mesh.fetch_crd(print)                           # what `workshop prepare` calls: caches Istio's CRD
"""

from __future__ import annotations

from workshop.env.mesh.crd import SchemaMissing, fetch_crd
from workshop.env.mesh.local import WORKLOAD, Outcome, ensure_sidecar
from workshop.env.mesh.resources import MeshError, PullSecret, WasmPlugin, load_file
from workshop.env.mesh.target import LocalMesh, Target, choose

LOCAL_MESH_NOTE = (
    "Local mesh: a stand-in for Istio, not Istio. The workshop does for one workload (go-httpbin, labels "
    "app=httpbin) what istiod and the istio-agent do: it checks WasmPlugins against Istio's CRD schema, pulls and "
    "verifies images, and hands a real Envoy sidecar the filters through ECDS, in phase and priority order, without "
    "restarting it. Not modelled: Kubernetes, other workloads and namespaces, outbound traffic, NETWORK plugins, "
    "mTLS, verificationKey and istiod's status conditions."
)

__all__ = ["LOCAL_MESH_NOTE", "WORKLOAD", "LocalMesh", "MeshError", "Outcome", "PullSecret", "SchemaMissing", "Target",
           "WasmPlugin", "choose", "ensure_sidecar", "fetch_crd", "load_file"]
