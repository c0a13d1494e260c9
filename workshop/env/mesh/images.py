"""Would Istio's agent load this image? Istio's own fetcher answers (wasmcheck runs the agent's code,
istio.io/istio/pkg/wasm); this module runs it and puts its answer in plain words for a learner, with a
description of what the registry holds (env/oci.py) where that helps. It never decides itself.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.core.errors import WorkshopError
from workshop.core.logs import json_answer
from workshop.env import oci, supervisor
from workshop.env.mesh import binaries


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
                f"push two layers: plugin.wasm as {oci.WASM_LAYER} and runtime-config.json as {oci.WASM_CONFIG}")
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
                f"as {oci.WASM_LAYER} and a runtime config as {oci.WASM_CONFIG}")
    return "Istio's agent would not load this image", "read the agent's words below"


def _describe(ref: str) -> str:
    try:
        return oci.describe(ref)
    except (oci.ImageProblem, ValueError):
        return ""
