"""The real mesh: Istio's control plane (etcd, the Kubernetes API server, istiod) and one workload
(go-httpbin behind the real istio-agent and Envoy), built from their own Go modules and run as local
processes (or containers) on 127.0.0.1; or a learner's own cluster with Istio, through its kubeconfig.

    binaries      what `workshop prepare` builds, and Istio's CRDs and bootstrap template
    control_plane etcd, the API server, istiod: services of the one supervisor
    sidecar       the workload's istio-agent and Envoy
    gateway       the ingress gateway: another istio-agent, running a gateway Envoy in front of the sidecar
    kube          kubectl against the local API server or a cluster
"""
