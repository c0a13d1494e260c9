"""The real mesh: Istio's control plane (etcd, the Kubernetes API server, istiod) and one workload
(go-httpbin behind the real istio-agent and Envoy), built from their own Go modules and run as local
processes (or containers) on 127.0.0.1; or a learner's own cluster with Istio, through its kubeconfig.

    control_plane etcd, the API server, istiod: services of the one supervisor
    sidecar       the workload's istio-agent and Envoy
    gateway       the ingress gateway: another istio-agent, running a gateway Envoy in front of the sidecar
    kube          kubectl against the local API server or a cluster

They are services like the lab's: `workshop.env.services` starts them by name. What Istio's programs are and
how `workshop prepare` builds them is env/binaries.py; reaching a running mesh (or a cluster) is env/mesh_target.py.
"""
