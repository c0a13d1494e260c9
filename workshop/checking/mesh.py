"""The mesh as checks see it: Istio's own components judge, the check only looks and explains.

    mesh.judge(path)            the API server's answer to `kubectl apply --dry-run=server` (schema, CEL, istiod's webhook)
    mesh.apply(path)            `kubectl apply -f`, as the learner does it
    mesh.in_force(kind, name)   what the resource became in the sidecar's Envoy (wasm, deny-all, allow-all), waited for
    mesh.get("/get")            a request through the sidecar's inbound listener
    mesh.until(...)             ask again until the traffic shows what is expected (Envoy takes a change in ~1 s)
    mesh.image(url, ...)        Istio's own fetcher: would the agent load this image?
    mesh.stored(path)           what the API server holds of the file's resources (their namespaces too)
    write_stored(resources, p)  those resources (changed by a check) as a file to apply, every value as stored
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from workshop.checking import mesh_status as status
from workshop.checking.commands import Deadline
from workshop.checking.feedback import fail
from workshop.core import waiting
from workshop.core.logs import json_answer
from workshop.env import http as httplib
from workshop.env import wasm_images
from workshop.env.mesh_target import MeshUnreachable, Reach, Target, choose
from workshop.env.supervisor import Result

# What the API server and istiod say, and what to try: the explanation of their words, never the judgement.
SAID = (
    (r"only one of targetRefs or selector", "set selector (matchLabels: {app: httpbin}) or targetRefs, not both"),
    (r"targetRef must be to one of", "targetRefs name a Service, ServiceEntry, Gateway or GatewayClass; "
                                     "for the httpbin workload use selector: {matchLabels: {app: httpbin}}"),
    (r"url must have schema", "url starts with oci://, https://, http:// or file://"),
    (r"sha256.*should match|sha256 in body must be of type string", "sha256 is 64 lowercase hex digits, quoted "
                                                                   "(YAML reads a number otherwise): `sh pin.sh` writes it"),
    (r"Unsupported value.*(failStrategy|phase|imagePullPolicy|type)", "the value must be one of those the message lists"),
    (r"no matches for kind|doesn't have a resource type", "apiVersion: extensions.istio.io/v1alpha1, and the kind spelled as Istio does"),
    (r"unknown field", "a field Istio's schema does not have: check its spelling and indentation"),
    (r"error converting YAML|yaml:|could not find expected", "the file is not valid YAML: check the indentation (spaces only)"),
)


POLL = 0.05  # seconds between two looks in a wait: each look is one request to Envoy (Envoy takes a change in ~1 s)


def explain_refusal(text: str) -> str:
    return next((hint for pattern, hint in SAID if re.search(pattern, text)),
                "read the API server's words above: they name the field it did not accept")


class Mesh:
    """The real mesh for one check: started if it is not up (it stays up for a learner)."""

    def __init__(self, services: Any, deadline: Deadline, transcript: list[str]) -> None:
        self.services = services
        self.deadline = deadline
        self.transcript = transcript
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = choose()
            if self._target.name == "local":
                self.services.ensure("mesh")
        return self._target

    # -- the API server

    def judge(self, path: Path) -> Result:
        """The API server's own answer to this file (its schema, its CEL rules and istiod's webhook), changing nothing."""
        return self._kubectl("apply", "--dry-run=server", "-f", str(path))

    def apply(self, path: Path) -> Result:
        """`kubectl apply -f path`, as the learner does it; a refusal fails the check with the API server's words."""
        answer = self._kubectl("apply", "-f", str(path))
        if not answer.ok:
            fail(f"`kubectl apply -f {path.name}` was refused", seen=answer.output[-600:], hint=explain_refusal(answer.output))
        return answer

    def delete(self, path: Path) -> Result:
        return self._kubectl("delete", "--ignore-not-found", "--wait=true", "-f", str(path))

    def get(self, kind: str, name: str, namespace: str = "default") -> dict | None:
        return self.target.kube.get(kind, name, namespace)

    def stored(self, path: Path, kind: str = "") -> list[dict]:
        """The file's resources as the API server holds them now (``kubectl get -f``), of ``kind`` if given:
        their namespace is the one the API server gave them (the file's, or kubectl's default)."""
        answer = self._kubectl("get", "--ignore-not-found", "-o", "json", "-f", str(path))
        if not answer.ok or not answer.output:
            return []
        try:
            found = json_answer(answer.output)  # kubectl's warnings may stand beside it
        except ValueError:
            return []
        items = found.get("items", [found]) if isinstance(found, dict) else []
        return [i for i in items if isinstance(i, dict) and (not kind or i.get("kind") == kind)]

    def _kubectl(self, *args: str) -> Result:
        answer = self.target.kube.run(*args, timeout=self.deadline.left(60))
        self.transcript.append(f"$ kubectl {' '.join(args)}    (exit {answer.code})\n{_no_secrets(answer.output)}")
        return answer

    # -- the sidecar

    @contextmanager
    def reach(self) -> Iterator[Reach]:
        try:
            with self.target.reach() as found:
                yield found
        except MeshUnreachable as exc:
            fail(str(exc))

    def view(self) -> status.MeshView:
        try:
            return status.view(self.target)
        except MeshUnreachable as exc:
            fail(str(exc))

    def in_force(self, kind: str, name: str, namespace: str = "default", want: str = "wasm",
                 timeout: float = 30.0) -> status.InEnvoy | None:
        """What the resource became in the sidecar's Envoy once it is ``want`` (or the last thing seen, or None)."""
        return waiting.until(lambda: self._ecds_filter(kind, name, namespace),
                             lambda found: found is not None and found.kind == want,
                             timeout=self.deadline.left(timeout), every=POLL).seen

    def _ecds_filter(self, kind: str, name: str, namespace: str) -> status.InEnvoy | None:
        """What the sidecar's Envoy runs for the resource now: one read of its ECDS filters (the part of the
        whole view the wait needs; three kubectl processes a poll took the cores Envoy compiles on)."""
        with self.reach() as reach:
            try:
                return next((f for f in status.in_envoy(reach) if f.resource == (kind, namespace, name)), None)
            except (httplib.NoResponse, ValueError):  # Envoy busy or not answering yet: nothing in force yet
                return None

    def get_through(self, path: str = "/get", headers: dict[str, str] | None = None) -> httplib.Response:
        """One request through the sidecar's inbound listener."""
        with self.reach() as reach:
            try:
                return httplib.request(reach.inbound + path, headers=headers, timeout=self.deadline.left(5))
            except httplib.NoResponse as exc:
                fail(f"the request through the sidecar got no answer: {exc}", hint="`workshop mesh status` shows what is in force")

    def until(self, seen: Callable[[httplib.Response], bool], timeout: float = 30.0, path: str = "/get") -> httplib.Response:
        """Requests through the sidecar until one is ``seen``; the last response either way. A request
        with no answer (Envoy draining a listener while a new filter comes in) is tried again until then."""
        last = requests_until(self.reach, self.deadline, seen, path=path, timeout=timeout, every=POLL)
        return last if last is not None else self.get_through(path)  # answers at last, or fails in plain words

    def uptime(self) -> int:
        with self.reach() as reach:
            return status.uptime(reach)

    def others_in_force(self, resource: dict) -> str:
        """The extensions applied besides ``resource`` (another lab's EnvoyFilter, say), for a failure's hint."""
        meta = resource.get("metadata") or {}
        mine = (resource.get("kind"), meta.get("namespace") or "default", meta.get("name"))
        try:
            listed = status.resources(self.target)
        except MeshUnreachable:
            return ""
        others = [r for r in listed if (r["kind"], r["namespace"], r["name"]) != mine]
        if not others:
            return ""
        named = ", ".join(f"{r['kind']} {r['namespace']}/{r['name']}" for r in others)
        first = others[0]
        return (f"; also applied: {named}, which may change the same headers "
                f"(`kubectl delete {first['kind'].lower()} {first['name']}` if it is another lab's)")

    def fetch_errors(self) -> list[str]:
        return self.view().fetch_errors

    def explain_refused_filter(self, summary: str, namespace: str, name: str) -> None:
        """A failing verdict in Envoy's words when the sidecar's Envoy refused the filter of namespace/name since
        the resource last changed; nothing when it did not."""
        with self.reach() as reach:
            explain_refused_filter(status.refused_filters_of(self.target, reach), summary, namespace, name)

    def agent_fetches(self) -> int:
        """How many modules the istio-agent has pulled from a registry so far (its own counter)."""
        with self.reach() as reach:
            text = httplib.request(reach.agent_stats, timeout=status.ADMIN_TIMEOUT).text if reach.agent_stats else ""
        return sum(int(float(m.group(1))) for m in re.finditer(
            r'^istio_agent_wasm_remote_fetch_count\{[^}]*result="success"[^}]*\} (\S+)$', text, re.M))

    # -- images

    def image(self, url: str, *, sha256: str = "", pull_secret: str | None = None, policy: str = "IfNotPresent") -> wasm_images.AgentAnswer:
        try:
            return wasm_images.would_load(url, sha256=sha256, pull_secret=pull_secret, policy=policy,
                                     timeout=min(30.0, self.deadline.left(30)))
        except wasm_images.FetcherMissing as exc:
            fail(str(exc), hint="`workshop prepare` builds it")


def requests_until(reach: Callable[[], AbstractContextManager[Reach]], deadline: Deadline,
                   seen: Callable[[httplib.Response], bool], *, path: str, timeout: float, every: float) -> httplib.Response | None:
    """Requests to a proxy's inbound listener (``reach().inbound``) until one is ``seen``: the last response,
    or None when the last request got no answer (Envoy draining a listener while a new filter comes in)."""
    def look() -> httplib.Response | None:
        try:
            with reach() as found:
                return httplib.request(found.inbound + path, timeout=deadline.left(5))
        except httplib.NoResponse:
            return None

    return waiting.until(look, lambda response: response is not None and seen(response),
                         timeout=deadline.left(timeout), every=every).seen


def admin_answer(reach: Callable[[], AbstractContextManager[Reach]], read: Callable[[Reach], Any], *, timeout: float,
                 every: float, busy: tuple[type[Exception], ...] = (httplib.NoResponse, ValueError)) -> tuple[Any, Exception | None]:
    """``read(reach())`` from a proxy's Envoy admin, asked again while it is ``busy`` (Envoy answers its admin on
    the main thread, which also compiles a module just fetched): (the answer, None), or (None, the last error)."""
    def look() -> tuple[Any, Exception | None]:
        with reach() as found:
            try:
                return read(found), None
            except busy as exc:
                return None, exc

    return waiting.until(look, lambda answered: answered[1] is None, timeout=timeout, every=every).seen or (None, None)


def explain_refused_filter(refused: list[str], summary: str, namespace: str, name: str) -> None:
    """A failing verdict when a proxy's Envoy refused the filter of the resource namespace/name (``refused``:
    ``mesh_status.refused_filters``, Envoy's words and the filter's); nothing when it did not. A Wasm filter
    whose OnPluginStart fails with its configuration is refused."""
    mine = [r for r in refused if f" {namespace}.{name}" in r]
    if not mine:
        return
    if "(the filter said:" in mine[-1]:
        hint = ("pluginConfig reaches the filter's OnPluginStart as JSON, where a bare 2 or 1e5 is a number: quote a "
                "value you mean as a string (\"2\"). When OnPluginStart fails, Envoy refuses the filter and keeps what "
                "it ran before (nothing, the first time)")
    else:
        hint = ("Envoy could not start the module itself: does the image hold the build that passes in lab 02's Envoy "
                "(`sh push.sh` after `go build`)? `workshop env logs sidecar` (or `ingress`) shows all Envoy said")
    fail(summary, seen=f"Envoy: {mine[-1][-500:]}", hint=hint)


def write_stored(resources: list[dict], path: Path) -> Path:
    """Resources as the API server stored them (``mesh.stored``), perhaps changed by a check, written to ``path`` for
    `kubectl apply`: one JSON document each, so every value keeps the type the API server gave it. A YAML dump of
    what PyYAML read would not: it writes the string 1e5 bare, and the API server's reader takes that for a number."""
    documents = []
    for resource in resources:
        meta = resource.get("metadata") or {}
        kept = {k: meta[k] for k in ("name", "namespace", "labels") if meta.get(k)}
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("kubectl.kubernetes.io/")}
        kept |= {"annotations": notes} if notes else {}
        documents.append({k: v for k, v in resource.items() if k not in ("metadata", "status")} | {"metadata": kept})
    path.write_text("\n---\n".join(json.dumps(d, indent=1) for d in documents) + "\n")
    return path


def read_resource(path: Path, kind: str = "") -> dict:
    """The (first) resource in a YAML file, to read what the learner asks for (their pluginConfig, say)."""
    return read_resources(path, kind)[0]


def read_resources(path: Path, kind: str = "") -> list[dict]:
    """Every resource of ``kind`` in a YAML file (a file may hold several documents), or a failing verdict."""
    if not path.exists():
        fail(f"{path.name} is missing from your lab folder", hint="restore the starter's with `workshop reset`")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        fail(f"{path.name}{f':{mark.line + 1}' if mark else ''} is not valid YAML", seen=str(getattr(exc, "problem", exc)),
             hint="check the indentation (spaces only)")
    found = [d for d in docs if not kind or d.get("kind") == kind]
    if not found:
        fail(f"{path.name} holds no {kind or 'resource'}", hint=f"kind: {kind}" if kind else "")
    return found


def where(resource: dict) -> tuple[str, str]:
    """(namespace, name) of a resource: as the API server stored it, or as a file gives it (kubectl's default
    namespace, default, when it names none)."""
    meta = resource.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def pinned(url: str, sha256: str = "") -> str:
    """The module a WasmPlugin or TrafficExtension pins, as Istio's agent reads it (pkg/wasm/cache.go): its
    sha256 field, else a digest in an oci:// url (``oci://HOST/REPO@sha256:HEX``); "" when nothing is pinned."""
    if sha256:
        return str(sha256)
    ref = agent_url(url)
    if ref.startswith("oci://") and "@sha256:" in ref:
        return ref.rpartition("@sha256:")[2]
    return ""


def agent_url(url: str) -> str:
    """The url as istiod hands it to the agent: with no scheme, oci:// (pilot/pkg/model/extensions.go). A url
    Go's url.Parse cannot read (no scheme, and a colon in its first segment, such as ``127.0.0.1:5000/x``)
    istiod discards: it is returned as it is, for Istio's fetcher to refuse."""
    if "://" in url:
        return url
    first = url.split("/", 1)[0]
    if ":" in first:
        return url
    return "oci://" + url


def headers_in(config: str) -> dict[str, str]:
    """The headers a filter of these labs adds, from the plugin configuration the sidecar's Envoy hands it (JSON)."""
    try:
        parsed = json.loads(config) if config else {}
    except ValueError:
        return {}
    named = parsed.get("headers") if isinstance(parsed, dict) else None
    return {str(k).lower(): str(v) for k, v in named.items()} if isinstance(named, dict) else {}


def plugin_headers(resource: dict) -> dict[str, str]:
    """The headers a filter of these labs adds, from the resource's pluginConfig (a WasmPlugin's or a TrafficExtension's)."""
    spec = resource.get("spec") or {}
    config = (spec.get("wasm") or spec).get("pluginConfig") or {}
    return {str(k).lower(): str(v) for k, v in ((config.get("headers") or {}) if isinstance(config, dict) else {}).items()}


def _no_secrets(text: str) -> str:
    """kubectl's words without anything that looks like a credential (a Secret's data is never shown)."""
    return re.sub(r'("?(auth|password|\.dockerconfigjson)"?\s*[:=]\s*)\S+', r"\1<hidden>", text)


@pytest.fixture
def mesh(services: Any, deadline: Deadline, transcript: list[str]) -> Mesh:
    return Mesh(services, deadline, transcript)
