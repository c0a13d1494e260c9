"""Describe what an OCI registry holds under a reference, to explain an answer of Istio's own fetcher.

Whether Istio's agent would load an image is decided by the agent's code (env/mesh/images.py asks
it); this module only reads the registry to say in words what is there (which manifest, which
layers and media types), and where a learner's push went instead.
"""

from __future__ import annotations

import json

from workshop.core.errors import WorkshopError
from workshop.env import http

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, "application/vnd.oci.image.index.v1+json"))


class ImageProblem(WorkshopError):
    """The image is missing or is not one Istio would load; the message says what to do."""


def parse_reference(ref: str) -> tuple[str, str, str]:
    """``127.0.0.1:5000/wasm-workshop/filter:v1`` -> (registry, repository, tag or digest)."""
    ref = ref.removeprefix("oci://")
    registry, _, rest = ref.partition("/")
    if not rest:
        raise ImageProblem(f"{ref!r} names no repository", hint="write it as REGISTRY/REPOSITORY:TAG")
    if "@" in rest:
        repo, _, tag = rest.partition("@")
    else:
        repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not tag:
        raise ImageProblem(f"{ref!r} has no tag", hint="add one, like :v1")
    return registry, repo, tag


def _get(registry: str, path: str, accept: str = "", auth: str | None = None) -> http.Response:
    headers = {"Accept": accept} if accept else {}
    if auth:
        headers["Authorization"] = auth
    try:
        return http.request(f"http://{registry}{path}", headers=headers, timeout=10)
    except http.NoResponse as exc:
        raise ImageProblem(f"the registry at {registry} does not answer ({exc})", hint="start it: `workshop env up registry`") from None


def what_is_there(registry: str, repo: str, auth: str | None = None) -> str:
    """Where a learner's push went instead: the repositories, or this repository's tags."""
    tags = _get(registry, f"/v2/{repo}/tags/list", auth=auth)
    if tags.status == 200:
        return "this repository has the tags: " + (", ".join(json.loads(tags.text).get("tags") or []) or "none")
    catalog = _get(registry, "/v2/_catalog", auth=auth)
    repos = json.loads(catalog.text).get("repositories") or [] if catalog.status == 200 else []
    return "the registry holds: " + (", ".join(repos) or "nothing yet")


def describe(reference: str, auth: str | None = None) -> str:
    """What the registry holds under a reference, in words: to explain what Istio's fetcher said about it
    (the fetcher decides; this only describes). "" when there is nothing to describe."""
    registry, repo, tag = parse_reference(reference)
    resp = _get(registry, f"/v2/{repo}/manifests/{tag}", ACCEPT, auth)
    if resp.status == 404:
        return f"{registry} has no {repo}:{tag}; {what_is_there(registry, repo, auth)}"
    if resp.status != 200:
        return ""
    manifest = json.loads(resp.text)
    media = manifest.get("mediaType") or resp.headers.get("content-type", "").split(";")[0]
    if "index" in media or "list" in media:
        platforms = [f"{(m.get('platform') or {}).get('os', '?')}/{(m.get('platform') or {}).get('architecture', '?')}"
                     for m in manifest.get("manifests") or []]
        return f"an image index for the platforms {', '.join(platforms) or 'none'}"
    layers = [layer.get("mediaType", "?") for layer in manifest.get("layers") or []]
    kind = {DOCKER_MANIFEST: "a Docker image", OCI_MANIFEST: "an OCI manifest"}.get(media, media or "a manifest")
    return f"{kind} with {len(layers)} layer(s): {', '.join(layers) or 'none'}"


def push_module(reference: str, wasm: bytes, note: str) -> None:
    """Push ``wasm`` to ``reference`` as the two-layer artifact Istio's agent loads, with a runtime config
    that carries ``note`` (so the manifest, and its digest, differ from any earlier push of the same module)."""
    import tempfile
    from pathlib import Path

    import oras.client

    registry = reference.split("/", 1)[0]
    with tempfile.TemporaryDirectory(prefix="workshop-push-") as tmp:  # layers are titled by their file names
        module, config = Path(tmp) / "plugin.wasm", Path(tmp) / "runtime-config.json"
        module.write_bytes(wasm)
        config.write_text(json.dumps({"type": "envoy_proxy", "note": note}))
        client = oras.client.OrasClient(hostname=registry, insecure=True)
        try:
            client.push(reference, files=[f"{module}:{WASM_LAYER}", f"{config}:{WASM_CONFIG}"], disable_path_validation=True)
        except Exception as exc:  # noqa: BLE001 - oras-py raises whatever requests raised
            raise ImageProblem(f"pushing to {reference} failed: {exc}", hint="is the registry up? `workshop env status`") from None
