"""Pull a WasmPlugin's module the way Istio's agent does: from the registry or the cache, verified.

The agent's rules, kept here: an OCI image in one of the three forms Istio reads (see core/oci.py);
``sha256`` is compared with the image's manifest digest for oci:// (with the module's own sha256
for file:// and http://); the module must start with the Wasm magic bytes; modules are cached by
digest and found again by (url, sha256); IfNotPresent uses the cached module without asking the
registry, Always asks every time (and an unset policy on a :latest tag means Always).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from workshop.core.atomic import write_atomic
from workshop.core.locations import cache_dir
from workshop.core.wasm import WASM_MAGIC, describe_non_wasm
from workshop.env import http, oci
from workshop.env.mesh.resources import MeshError, PullSecret, WasmPlugin


@dataclass
class Module:
    """A module ready for Envoy: where it is, and what it was pulled from."""

    path: str
    sha256: str  # of the module itself
    digest: str  # the image's manifest digest (oci://), else the module's sha256
    form: str  # "OCI artifact", "docker image", "OCI image", "file", "http"
    pulled: bool  # False: taken from the cache without asking the registry


def modules_dir() -> Path:
    return cache_dir() / "mesh" / "modules"


def _index_path() -> Path:
    return cache_dir() / "mesh" / "index.json"


def _index() -> dict[str, dict]:
    try:
        return json.loads(_index_path().read_text())
    except (OSError, ValueError):
        return {}


def _key(url: str, sha256: str) -> str:
    return f"{url}|{sha256}"


def pull(plugin: WasmPlugin, secret: PullSecret | None) -> Module:
    """The plugin's module, from the cache or the registry; raises MeshError saying why it cannot be had."""
    wanted = plugin.spec.get("sha256") or ""
    index = _index()
    if plugin.pull_policy == "IfNotPresent":
        cached = index.get(_key(plugin.url, wanted))
        if cached and Path(cached["path"]).is_file():
            return Module(**{**cached, "pulled": False})
    module = _fetch(plugin, secret)
    if wanted and module.digest != wanted:
        hint = "put the image's digest in sha256, or leave sha256 out"
        if wanted == module.sha256 and plugin.scheme == "oci":
            hint = ("that is the sha256 of plugin.wasm; for an oci:// image Istio compares the image's manifest digest: "
                    f"sha256: {module.digest}")
        raise MeshError(f"the image at {plugin.url} has digest {module.digest[:12]}…, which does not match spec.sha256 "
                        f"{wanted[:12]}…", hint=hint)
    entry = {k: v for k, v in asdict(module).items() if k != "pulled"}
    index[_key(plugin.url, wanted)] = entry
    index[_key(plugin.url, module.digest)] = entry
    write_atomic(_index_path(), json.dumps(index, indent=1))
    return module


def _store(data: bytes, digest: str | None, form: str, where: str) -> Module:
    if not data.startswith(WASM_MAGIC) or len(data) < 8:
        raise MeshError(f"{where} is {describe_non_wasm(data[:64])}",
                        hint="put the plugin.wasm built with GOOS=wasip1 GOARCH=wasm in the image")
    sha = hashlib.sha256(data).hexdigest()
    path = modules_dir() / f"{sha}.wasm"
    if not path.is_file():
        write_atomic(path, data)
    return Module(path=str(path), sha256=sha, digest=digest or sha, form=form, pulled=True)


def _fetch(plugin: WasmPlugin, secret: PullSecret | None) -> Module:
    if plugin.scheme == "file":
        path = Path(urlsplit(plugin.url).path)
        try:
            return _store(path.read_bytes(), None, "file", str(path))
        except OSError as exc:
            raise MeshError(f"{plugin.url} cannot be read ({exc.strerror})", hint="give the absolute path of plugin.wasm") from None
    if plugin.scheme in ("http", "https"):
        return _fetch_http(plugin.url)
    return _fetch_oci(plugin, secret)


def _loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.")


def _fetch_http(url: str) -> Module:
    parts = urlsplit(url)
    if parts.scheme != "http" or not _loopback(parts.hostname or ""):
        raise MeshError(f"the local mesh downloads modules only from http://127.0.0.1, not {url}",
                        hint="serve plugin.wasm on 127.0.0.1, or push it to the local registry and use oci://")
    try:
        resp = http.request(url, timeout=10)
    except http.NoResponse as exc:
        raise MeshError(f"{url} does not answer ({exc})", hint="start the server that holds plugin.wasm") from None
    if resp.status != 200:
        raise MeshError(f"{url} answered {resp.status}", hint="check the address of plugin.wasm")
    return _store(resp.body, None, "http", url)


def reference(url: str) -> tuple[str, str]:
    """(registry, reference without oci://) of an oci:// url, or MeshError when it names no tag."""
    ref = url.removeprefix("oci://")
    registry, _, rest = ref.partition("/")
    if not rest:
        raise MeshError(f"the url {url!r} names no repository", hint="write it as oci://REGISTRY/REPOSITORY:TAG")
    if "@sha256:" not in rest and ":" not in rest.rsplit("/", 1)[-1]:
        raise MeshError(f"the url {url!r} has no tag: Istio would pull :latest (and re-pull it every time)",
                        hint=f"name the tag you pushed, like {url}:v1 (write :latest if you mean it)")
    host = registry.rsplit(":", 1)[0]
    if not _loopback(host):
        raise MeshError(f"the local mesh pulls only from registries on 127.0.0.1, not {registry}",
                        hint="push the image to the workshop's registry, 127.0.0.1:5000")
    return registry, ref


def _fetch_oci(plugin: WasmPlugin, secret: PullSecret | None) -> Module:
    registry, ref = reference(plugin.url)
    auth = secret.authorization(registry) if secret else None
    if secret and not auth:
        raise MeshError(f"the Secret {secret.name} has no login for {registry}",
                        hint=f'add "{registry}" under auths in its .dockerconfigjson')
    try:
        image = oci.fetch(ref, auth=auth)
    except oci.ImageProblem as exc:
        text = str(exc)
        if "wants a login" in text and auth:
            raise MeshError(f"the registry at {registry} refused the login in the Secret {secret.name if secret else ''}",
                            hint="check the user and password in the Secret, then apply it again") from None
        if "wants a login" in text:
            raise MeshError(f"the registry at {registry} wants a login for {ref.split('/', 1)[1]}",
                            hint="apply a Secret of type kubernetes.io/dockerconfigjson and name it in "
                                 "spec.imagePullSecret") from None
        raise MeshError(text, hint=exc.hint) from None
    if "@sha256:" in ref and image.manifest_digest != "sha256:" + ref.rsplit("@sha256:", 1)[1]:
        raise MeshError(f"the registry sent digest {image.manifest_digest} for {ref}", hint="push the image again")
    return _store(image.wasm, image.manifest_digest.removeprefix("sha256:"), image.form, f"the {image.form} {ref}")
