"""The resources a learner applies: WasmPlugin (checked against Istio's CRD) and a pull Secret."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.core.errors import WorkshopError
from workshop.env.mesh import crd

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PHASE_ORDER = {"AUTHN": 0, "AUTHZ": 1, "STATS": 2, "UNSPECIFIED_PHASE": 3}  # Istio: unset goes last, by the router


class MeshError(WorkshopError):
    """A resource the mesh cannot take, or an image it cannot pull; one sentence, with ``hint`` the fix."""


@dataclass
class WasmPlugin:
    """One WasmPlugin resource, as applied (``spec`` is exactly what the learner wrote)."""

    name: str
    namespace: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url(self) -> str:
        return str(self.spec["url"])

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0] if "://" in self.url else "oci"

    @property
    def phase(self) -> str:
        return self.spec.get("phase") or "UNSPECIFIED_PHASE"

    @property
    def priority(self) -> int:
        return int(self.spec.get("priority") or 0)

    @property
    def fail_strategy(self) -> str:
        return self.spec.get("failStrategy") or "FAIL_CLOSE"

    @property
    def plugin_config(self) -> str | None:
        """pluginConfig as the JSON string Envoy hands the plugin (None when there is none)."""
        cfg = self.spec.get("pluginConfig")
        return json.dumps(cfg, separators=(",", ":"), sort_keys=True) if cfg is not None else None

    @property
    def pull_policy(self) -> str:
        """IfNotPresent or Always; unset means Always for :latest (or no tag), as in Istio."""
        policy = self.spec.get("imagePullPolicy") or "UNSPECIFIED_POLICY"
        if policy != "UNSPECIFIED_POLICY":
            return policy
        return "Always" if self.url.endswith(":latest") else "IfNotPresent"

    def order(self) -> tuple[int, int, str]:
        """Where it goes in the chain: by phase, then higher priority first, then name (stable)."""
        return PHASE_ORDER[self.phase], -self.priority, self.key

    def to_dict(self) -> dict:
        return {"apiVersion": crd.API_VERSION, "kind": crd.KIND,
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self.spec}


@dataclass
class PullSecret:
    """A Secret of type kubernetes.io/dockerconfigjson: registry logins. Never printed."""

    name: str
    namespace: str
    auths: dict[str, dict[str, str]] = field(repr=False)  # registry -> {"auth": base64(user:pass)}

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def authorization(self, registry: str) -> str | None:
        """The Authorization header for ``registry`` ("Basic ..."), or None when the Secret has no login for it."""
        for host, entry in self.auths.items():
            if host.removeprefix("https://").removeprefix("http://").rstrip("/") == registry:
                if entry.get("auth"):
                    return f"Basic {entry['auth']}"
                if "username" in entry:
                    raw = f"{entry['username']}:{entry.get('password', '')}".encode()
                    return f"Basic {base64.b64encode(raw).decode()}"
        return None

    def to_dict(self) -> dict:
        payload = base64.b64encode(json.dumps({"auths": self.auths}).encode()).decode()
        return {"apiVersion": "v1", "kind": "Secret", "type": DOCKER_CONFIG_JSON,
                "metadata": {"name": self.name, "namespace": self.namespace}, "data": {".dockerconfigjson": payload}}


Resource = WasmPlugin | PullSecret


def load_file(path: Path) -> list[Resource]:
    """Every resource in a YAML file (documents separated by ---), checked; raises MeshError on the first problem."""
    import yaml

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise MeshError(f"{path} does not exist", hint="give the path of the YAML file you wrote, like -f wasmplugin.yaml") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise MeshError(f"{path.name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                        hint="check the indentation (spaces, not tabs) around that line") from None
    if not docs:
        raise MeshError(f"{path.name} is empty", hint="write a WasmPlugin resource in it")
    return [parse(doc, f"{path.name}" + (f" (document {i + 1})" if len(docs) > 1 else "")) for i, doc in enumerate(docs)]


def parse(doc: Any, where: str = "the resource") -> Resource:
    if not isinstance(doc, dict):
        raise MeshError(f"{where} is not a Kubernetes resource (a mapping with apiVersion, kind, metadata)")
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if kind == "Secret" and api == "v1":
        return _secret(doc, where)
    if kind != crd.KIND:
        raise MeshError(f"{where} has kind {kind!r}; the mesh takes kind WasmPlugin (and Secret for image pull logins)",
                        hint="write kind: WasmPlugin")
    if api != crd.API_VERSION:
        raise MeshError(f"{where} has apiVersion {api!r}; WasmPlugin is {crd.API_VERSION}",
                        hint=f"write apiVersion: {crd.API_VERSION}")
    name, namespace = _metadata(doc, where)
    found = crd.problems(doc)
    if found:
        raise MeshError(f"{where}: Istio's WasmPlugin schema refuses it: {found[0]}" +
                        (f" (and {len(found) - 1} more)" if len(found) > 1 else ""), hint="; ".join(found[1:4]))
    return WasmPlugin(name=name, namespace=namespace, spec=doc["spec"])


def _metadata(doc: dict, where: str) -> tuple[str, str]:
    meta = doc.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace") or "default"
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 253:
        raise MeshError(f"{where} has no valid metadata.name ({name!r})",
                        hint="give it a name of lower-case letters, digits and -, like add-headers")
    if not isinstance(namespace, str) or not NAME.match(namespace):
        raise MeshError(f"{where} has an invalid metadata.namespace {namespace!r}", hint="use default")
    return name, namespace


def _secret(doc: dict, where: str) -> PullSecret:
    name, namespace = _metadata(doc, where)
    if doc.get("type") != DOCKER_CONFIG_JSON:
        raise MeshError(f"Secret {name} has type {doc.get('type')!r}; an image pull secret is {DOCKER_CONFIG_JSON}",
                        hint=f"write type: {DOCKER_CONFIG_JSON}")
    raw = (doc.get("data") or {}).get(".dockerconfigjson")
    try:
        if raw is not None:
            text = base64.b64decode(str(raw), validate=True).decode()
        else:
            text = (doc.get("stringData") or {})[".dockerconfigjson"]
        auths = json.loads(text)["auths"]
        if not isinstance(auths, dict) or not all(isinstance(v, dict) for v in auths.values()):
            raise ValueError
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        raise MeshError(f"Secret {name} has no readable .dockerconfigjson",
                        hint='put {"auths": {"REGISTRY": {"auth": base64("user:password")}}} in stringData.'
                             '".dockerconfigjson" (or base64 of it in data)') from None
    return PullSecret(name=name, namespace=namespace, auths=auths)
