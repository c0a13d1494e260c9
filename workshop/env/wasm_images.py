"""A Wasm module as an OCI image, as Istio's agent loads it: push one (two layers, the module and its
runtime config), describe what a registry holds under a reference, and ask Istio's own fetcher whether
the agent would load it (wasmcheck runs the agent's code, istio.io/istio/pkg/wasm), its answer put in
plain words for a learner. Istio's fetcher decides; reading the registry only describes, to explain its
answer and where a learner's push went instead.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.core.errors import WorkshopError
from workshop.core.logs import json_answer
from workshop.env import binaries, http, supervisor

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
    import oras.client  # oras-py loads requests and more: only when a check pushes

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


# ---------------------------------------------------------------- what Istio's fetcher says


class FetcherMissing(WorkshopError):
    """wasmcheck (Istio's fetcher) is not built."""


@dataclass
class AgentAnswer:
    """What Istio's fetcher said about a url: it would load it (and which module), or its own words why not."""

    ok: bool
    url: str
    manifest_digest: str = ""  # what the agent compares sha256 with, for oci://
    module_sha256: str = ""  # the module it would load (what it compares, for http(s)://)
    module_size: int = 0
    error: str = ""  # the agent's own words

    @property
    def manifest_hex(self) -> str:
        return self.manifest_digest.removeprefix("sha256:")


def would_load(url: str, *, sha256: str = "", pull_secret: str | None = None, policy: str = "IfNotPresent",
               out: Path | None = None, timeout: float = 30.0) -> AgentAnswer:
    """Ask Istio's fetcher about ``url`` (oci://, http://, https://), as the agent would fetch it for a
    WasmPlugin with this ``sha256``, pull secret (a .dockerconfigjson) and pull policy. ``out`` gets the module."""
    tool = binaries.program("wasmcheck")
    if not binaries.built(tool):
        raise FetcherMissing("Istio's image fetcher (wasmcheck) is not built: run `workshop prepare`")
    with tempfile.TemporaryDirectory(prefix="workshop-wasmcheck-") as tmp:
        argv = [str(tool.path), "-policy", policy, "-timeout", f"{int(timeout)}s"]
        if sha256:
            argv += ["-sha256", sha256]
        if pull_secret is not None:
            secret = Path(tmp) / "dockerconfig.json"
            secret.write_text(pull_secret)
            argv += ["-pull-secret", str(secret)]
        if out is not None:
            argv += ["-out", str(out)]
        try:
            done = supervisor.run([*argv, url], timeout=timeout + 15, label="wasmcheck")
        except OSError as exc:
            raise FetcherMissing(f"Istio's image fetcher (wasmcheck) could not run ({exc.strerror or exc}): "
                                 "run `workshop prepare`") from None
    try:
        said = json_answer(done.output)  # its answer on stdout, after Istio's log lines on stderr
    except ValueError:
        return AgentAnswer(False, url, error=done.output.strip()[-500:] or (
            f"no answer within {timeout + 15:g} s" if done.timed_out else f"exit {done.code}"))
    return AgentAnswer(**{k: v for k, v in said.items() if k in AgentAnswer.__dataclass_fields__})


def explain(answer: AgentAnswer, sha256: str = "") -> tuple[str, str]:
    """(a plain sentence, what to try) for an answer of Istio's fetcher that is not ok."""
    said = answer.error
    ref = answer.url.removeprefix("oci://")
    seen = _describe(ref) if answer.url.startswith("oci://") else ""
    if "MANIFEST_UNKNOWN" in said or "NAME_UNKNOWN" in said or ("manifest" in said and "not found" in said):
        return (seen or f"the registry has no {ref}"), f"push it to exactly {ref}"
    if "connection refused" in said or "no such host" in said:
        return f"nothing answers at {ref.split('/', 1)[0]}", "start the registry: `workshop env up registry`"
    if "UNAUTHORIZED" in said or "401" in said or "authentication required" in said:
        return (f"the registry at {ref.split('/', 1)[0]} wants a login, and the agent had none (or a wrong one)",
                "give the WasmPlugin an imagePullSecret: a kubernetes.io/dockerconfigjson Secret with the login")
    if "number of layers must be 2 but got 1" in said:
        return ("a one-layer Wasm artifact: Istio's agent refuses it (this is what a quick `oras push plugin.wasm` makes)",
                f"push two layers: plugin.wasm as {WASM_LAYER} and runtime-config.json as {WASM_CONFIG}")
    if "no child with platform" in said:
        return (f"the tag points at an image index without a linux/amd64 image ({seen})",
                "push an image for linux/amd64 (or one image, not an index)")
    if "does not match" in said and "checksum" in said:
        return ("the image is not the one sha256 pins", "for an oci:// url sha256 is the image's manifest digest, "
                f"{answer.manifest_hex or 'see `oras resolve`'}: pin that (`sh pin.sh`), or push the build you pinned")
    if "is invalid" in said or "magic" in said:
        return "the module in the image is not WebAssembly", "push the plugin.wasm that GOOS=wasip1 GOARCH=wasm go build made"
    if "invalid media type" in said or "could not parse" in said or "plugin.wasm" in said:
        return (f"Istio's agent cannot read this image{f' ({seen})' if seen else ''}",
                f"a Docker or OCI image whose last layer holds plugin.wasm, or an artifact of two layers: plugin.wasm "
                f"as {WASM_LAYER} and a runtime config as {WASM_CONFIG}")
    return "Istio's agent would not load this image", "read the agent's words below"


def _describe(ref: str) -> str:
    try:
        return describe(ref)
    except (ImageProblem, ValueError):
        return ""
