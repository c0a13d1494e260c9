"""Istio's own WasmPlugin schema: the CRD that ships in the Go module istio.io/api, checked here.

``fetch_crd()`` (called by `workshop prepare`) runs ``go mod download -json istio.io/api@VERSION``
(the Go module proxy) and caches the CRD file. The OpenAPI v3 schema is checked with jsonschema,
with two Kubernetes rules added: unknown fields are rejected (kubectl's strict field validation),
and ``nullable`` allows null. The CEL rules (x-kubernetes-validations) are evaluated here by hand,
one function per rule the CRD holds for WasmPlugin:

- only one of selector, targetRef, targetRefs;
- no wildcard in selector label keys or values, no empty key;
- targetRef(s).namespace empty (no cross-namespace reference);
- url scheme one of "", http, https, oci, file;
- vmConfig.env: no value when valueFrom is HOST.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workshop.core.atomic import write_atomic
from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir

ISTIO_API = "istio.io/api"
ISTIO_API_VERSION = "v1.32.0"
CRD_FILE = "kubernetes/customresourcedefinitions.gen.yaml"
GROUP, VERSION, KIND = "extensions.istio.io", "v1alpha1", "WasmPlugin"
API_VERSION = f"{GROUP}/{VERSION}"


class SchemaMissing(WorkshopError):
    """The CRD is not cached and could not be fetched; the message says how to get it."""


def crd_path() -> Path:
    return cache_dir() / "istio" / f"api-{ISTIO_API_VERSION}" / "wasmplugin-crd.json"


def fetch_crd(progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Cache the WasmPlugin CRD from istio.io/api (through the Go module proxy); returns the cached file."""
    out = crd_path()
    if out.is_file():
        progress(f"Istio's WasmPlugin CRD ({ISTIO_API}@{ISTIO_API_VERSION}) is cached")
        return out
    go = shutil.which("go")
    if not go:
        raise SchemaMissing("Go is needed once to fetch Istio's WasmPlugin schema: install Go, then run `workshop prepare`")
    progress(f"Fetching Istio's WasmPlugin CRD from the Go module {ISTIO_API}@{ISTIO_API_VERSION}")
    try:
        proc = subprocess.run([go, "mod", "download", "-json", f"{ISTIO_API}@{ISTIO_API_VERSION}"], capture_output=True,
                              text=True, timeout=300, cwd=cache_dir().parent if cache_dir().parent.is_dir() else None)
        info = json.loads(proc.stdout or "{}")
    except (subprocess.TimeoutExpired, ValueError, OSError) as exc:
        raise SchemaMissing(f"`go mod download {ISTIO_API}@{ISTIO_API_VERSION}` failed ({exc}): "
                            "check the Go module proxy (GOPROXY), then run `workshop prepare`") from None
    source = Path(info.get("Dir", "")) / CRD_FILE
    if proc.returncode != 0 or not source.is_file():
        why = info.get("Error") or proc.stderr.strip()[-300:] or f"{CRD_FILE} is not in the module"
        raise SchemaMissing(f"Istio's WasmPlugin CRD could not be fetched ({why}): check GOPROXY, then run `workshop prepare`")
    write_atomic(out, json.dumps(_extract(source.read_text())))
    return out


def _extract(text: str) -> dict:
    import yaml

    for doc in yaml.safe_load_all(text):
        if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == KIND:
            return doc
    raise SchemaMissing(f"{CRD_FILE} holds no {KIND} CRD: pin another {ISTIO_API} version")


@lru_cache(maxsize=1)
def schema() -> dict:
    """The openAPIV3Schema of WasmPlugin v1alpha1, as a JSON schema (fetched and cached on first use)."""
    crd = json.loads(fetch_crd().read_text())
    for version in crd["spec"]["versions"]:
        if version["name"] == VERSION:
            return _kubernetes_rules(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    raise SchemaMissing(f"the cached CRD has no {VERSION} version: delete {crd_path()} and run `workshop prepare`")


def _kubernetes_rules(node: Any) -> Any:
    """What the API server adds to a structural schema: no unknown fields, and nullable."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key != "x-kubernetes-validations":
                node[key] = _kubernetes_rules(value)
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
    elif isinstance(node, list):
        return [_kubernetes_rules(v) for v in node]
    return node


def problems(spec_doc: dict) -> list[str]:
    """What Kubernetes would refuse in a WasmPlugin (metadata aside): schema errors, then CEL rules."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema())
    found = []
    for error in sorted(validator.iter_errors({k: v for k, v in spec_doc.items() if k in ("spec", "status")}),
                        key=lambda e: list(e.absolute_path)):
        found.append(_say(error))
    if not found:
        found += cel_rules(spec_doc.get("spec") or {})
    return found


def _say(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "the resource"
    if error.validator == "enum":
        return f"{where} is {error.instance!r}; Istio accepts {', '.join(map(str, error.validator_value))}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where} has unknown field(s) {', '.join(extra)}; it knows {', '.join(sorted(error.schema['properties']))}"
    if error.validator == "required":
        return f"{where} lacks {error.message.split(' is a required')[0]}"
    if error.validator == "type" and error.validator_value == "string" and not isinstance(error.instance, str):
        return f"{where} must be a string, and YAML read {error.instance!r} as a number: put it in quotes"
    if error.validator == "pattern" and where.endswith("sha256"):
        return f"{where} must be 64 lower-case hex digits (no sha256: prefix), not {error.instance!r}"
    return f"{where}: {error.message}"


def cel_rules(spec: dict) -> list[str]:
    """The CRD's x-kubernetes-validations for WasmPlugin, evaluated by hand (see the module docstring)."""
    found = []
    if sum(k in spec for k in ("selector", "targetRef", "targetRefs")) > 1:
        found.append("spec sets more than one of selector, targetRef and targetRefs: only one of targetRefs or "
                     "selector can be set, so keep one")
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    for key, value in labels.items():
        if "*" in key or "*" in str(value):
            found.append(f"spec.selector.matchLabels {key}: {value}: a wildcard is not allowed in a label match")
        if not key:
            found.append("spec.selector.matchLabels has an empty key")
    refs = ([spec["targetRef"]] if isinstance(spec.get("targetRef"), dict) else []) + list(spec.get("targetRefs") or [])
    for ref in refs:
        if isinstance(ref, dict) and ref.get("namespace"):
            found.append(f"targetRef {ref.get('name')} names namespace {ref['namespace']}: cross namespace "
                         "referencing is not supported, drop namespace")
    url = spec.get("url")
    if isinstance(url, str) and url:
        scheme = urlsplit(url).scheme if "://" in url else ""
        if scheme not in ("", "http", "https", "oci", "file"):
            found.append(f"spec.url {url!r} has the scheme {scheme}://; Istio accepts oci://, file://, http:// and https://")
    for env in (spec.get("vmConfig") or {}).get("env") or []:
        if isinstance(env, dict) and env.get("valueFrom") == "HOST" and "value" in env:
            found.append(f"vmConfig.env {env.get('name')}: value may only be set when valueFrom is INLINE")
    return found
