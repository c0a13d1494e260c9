"""Read a filter image from an OCI registry the way Istio's agent does, and say plainly why not.

The agent accepts, tried in order: a Docker schema-2 manifest whose last layer is a gzipped tar
holding a file named plugin.wasm; an OCI image manifest whose last layer is the same; an OCI
artifact with exactly two layers, one of them the raw module
(application/vnd.module.wasm.content.layer.v1+wasm). A one-layer artifact is rejected.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

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


@dataclass
class FilterImage:
    reference: str
    form: str  # "docker image", "OCI image" or "OCI artifact"
    manifest_digest: str
    wasm: bytes

    @property
    def wasm_sha256(self) -> str:
        return hashlib.sha256(self.wasm).hexdigest()


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


def fetch(reference: str, auth: str | None = None) -> FilterImage:
    registry, repo, tag = parse_reference(reference)
    resp = _get(registry, f"/v2/{repo}/manifests/{tag}", ACCEPT, auth)
    if resp.status == 401:
        raise ImageProblem(f"the registry at {registry} wants a login for {repo}", hint="give credentials (an imagePullSecret)")
    if resp.status == 404:
        raise ImageProblem(f"{registry} has no {repo}:{tag}; {what_is_there(registry, repo, auth)}",
                           hint=f"push to exactly {registry}/{repo}:{tag}")
    if resp.status != 200:
        raise ImageProblem(f"the registry answered {resp.status} for {repo}:{tag}: {resp.text[:200]}")
    manifest = json.loads(resp.text)
    media = manifest.get("mediaType") or resp.headers.get("content-type", "").split(";")[0]
    digest = resp.headers.get("docker-content-digest", "")
    layers = manifest.get("layers") or []
    blob = lambda layer: _blob(registry, repo, layer, auth)  # noqa: E731
    if media == DOCKER_MANIFEST and layers and layers[-1].get("mediaType") == DOCKER_LAYER:
        return FilterImage(reference, "docker image", digest, _plugin_from_tar(blob(layers[-1])))
    if media == OCI_MANIFEST and layers and layers[-1].get("mediaType") == OCI_LAYER:
        return FilterImage(reference, "OCI image", digest, _plugin_from_tar(blob(layers[-1])))
    wasm_layers = [layer for layer in layers if layer.get("mediaType") == WASM_LAYER]
    if media == OCI_MANIFEST and len(layers) == 2 and wasm_layers:
        return FilterImage(reference, "OCI artifact", digest, blob(wasm_layers[0]))
    raise _why_rejected(media, layers)


def _why_rejected(media: str, layers: list[dict]) -> ImageProblem:
    kinds = [layer.get("mediaType", "?") for layer in layers]
    if "index" in media or "list" in media:
        return ImageProblem("the tag points at a multi-platform index, which Istio does not read",
                            hint="push a single image (docker build without --platform lists)")
    if len(layers) == 1 and kinds[0] == WASM_LAYER:
        return ImageProblem("a one-layer Wasm artifact: Istio rejects it (this is what a quick `oras push` makes)",
                            hint=f"push two layers: plugin.wasm as {WASM_LAYER} and a runtime config as {WASM_CONFIG}")
    if not layers:
        return ImageProblem("the image has no layers", hint="COPY plugin.wasm into it, or push plugin.wasm as a layer")
    return ImageProblem(
        f"Istio would not read this image: its layers are {', '.join(kinds)}",
        hint=f"the last layer must be {DOCKER_LAYER} or {OCI_LAYER} holding plugin.wasm, "
             f"or push an artifact of two layers with {WASM_LAYER}",
    )


def _blob(registry: str, repo: str, layer: dict, auth: str | None) -> bytes:
    resp = _get(registry, f"/v2/{repo}/blobs/{layer['digest']}", auth=auth)
    if resp.status != 200:
        raise ImageProblem(f"the registry answered {resp.status} for the layer {layer['digest'][:19]}")
    if "sha256:" + hashlib.sha256(resp.body).hexdigest() != layer["digest"]:
        raise ImageProblem("a layer's content does not match its digest", hint="push the image again")
    return resp.body


def _plugin_from_tar(data: bytes) -> bytes:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError):
        raise ImageProblem("the last layer says it is a gzipped tar, but it is not gzip") from None
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        for m in members:
            if m.name.rsplit("/", 1)[-1] == "plugin.wasm":
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    names = ", ".join(m.name for m in members[:8]) or "no files"
    raise ImageProblem(f"the image's last layer has no plugin.wasm (it holds: {names})",
                       hint="the file must be named plugin.wasm: COPY plugin.wasm ./ in the Dockerfile")
