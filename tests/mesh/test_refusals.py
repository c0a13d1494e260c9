"""What Istio refuses, in its own words, and what the workshop makes of them: bad WasmPlugins (the API
server's schema and CEL rules, istiod's webhook), an image the agent cannot fetch, a wrong pull secret."""

from __future__ import annotations

import base64
import os
import re
import secrets

import pytest

from tests.mesh.conftest import ECDS, LOGIN, Applied, Image, wait_until, wasmplugin, workshop
from workshop.checking.mesh import explain_refusal
from workshop.env import http

pytestmark = pytest.mark.slow
FALLBACK = explain_refusal("")  # what the hint says when it recognises nothing
WEBHOOK = 'admission webhook "rev.validation.istio.io" denied the request'

# (case, the defect, the same line without it, who refuses in which words, what the hint must say)
BAD = [
    ("targetrefs-to-a-deployment", "  targetRefs: [{kind: Deployment, group: apps, name: httpbin}]\n",
     '  targetRefs: [{kind: Service, group: "", name: httpbin}]\n',
     rf"{re.escape(WEBHOOK)}: configuration is invalid: targetRef must be to one of \[core/v1/Service .*\] but was apps/Deployment",
     "for the httpbin workload use selector"),
    ("selector-and-targetrefs", '  selector: {matchLabels: {app: httpbin}}\n  targetRefs: [{kind: Service, group: "", name: httpbin}]\n',
     "  selector: {matchLabels: {app: httpbin}}\n",
     r'The WasmPlugin "[a-z-]+" is invalid: spec: Invalid value: .*only one of targetRefs or selector can be set', "not both"),
    ("sha256-unquoted-digits", "  selector: {matchLabels: {app: httpbin}}\n  sha256: " + "1" * 64 + "\n",
     '  selector: {matchLabels: {app: httpbin}}\n  sha256: "' + "1" * 64 + '"\n',
     r'spec\.sha256: Invalid value: "number": spec\.sha256 in body must be of type string', "quoted"),
    ("url-scheme", "  selector: {matchLabels: {app: httpbin}}\n  url: ftp://{registry}/wasm-workshop/filter:v1\n",
     "  selector: {matchLabels: {app: httpbin}}\n",
     r'spec\.url: Invalid value: "ftp://.*": url must have schema one of \[http, https, file, oci\]', "url starts with oci://"),
    ("unknown-field", "  selector: {matchLabels: {app: httpbin}}\n  pluginConfg: {headers: {x-team: blue}}\n",
     "  selector: {matchLabels: {app: httpbin}}\n  pluginConfig: {headers: {x-team: blue}}\n",
     r'strict decoding error: unknown field "spec\.pluginConfg"', "a field Istio's schema does not have"),
]


def _manifest(name: str, spec: str, registry: str) -> str:
    url = f"  url: oci://{registry}/wasm-workshop/filter:v1\n" if "url:" not in spec else ""
    return (f"apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n{spec.replace('{registry}', registry)}{url}")


@pytest.mark.parametrize(("case", "defect", "fixed", "said", "hint"), BAD, ids=[b[0] for b in BAD])
def test_istio_refuses_a_bad_wasmplugin_in_its_own_words(applied: Applied, case: str, defect: str, fixed: str,
                                                         said: str, hint: str) -> None:
    mesh = applied.mesh
    good = mesh.kubectl("apply", "--dry-run=server", "-f", str(applied.write(case, _manifest(case, fixed, mesh.registry))))
    assert good.returncode == 0, f"without the defect, Istio should accept it: {good.stderr}"
    refused = applied.apply(case, _manifest(case, defect, mesh.registry))
    assert refused.returncode != 0, f"the API server accepted a WasmPlugin with {case}: {refused.stdout}"
    assert re.search(said, refused.stderr), f"not in Istio's words we expected:\n{refused.stderr}"
    assert (WEBHOOK in refused.stderr) == (case == "targetrefs-to-a-deployment"), "who refused: istiod's webhook or the API server"
    explained = explain_refusal(refused.stderr)
    assert explained != FALLBACK and hint in explained, f"the hint for {case} is {explained!r}"
    assert "NotFound" in mesh.kubectl("get", "wasmplugin", case).stderr, "a refused resource must not be stored"


@pytest.mark.parametrize(("strategy", "in_its_place", "status"), [("FAIL_CLOSE", "deny-all", 403), ("FAIL_OPEN", "allow-all", 200)])
def test_an_image_the_agent_cannot_fetch(applied: Applied, strategy: str, in_its_place: str, status: int) -> None:
    """The agent's own words in `workshop mesh status`; FAIL_CLOSE denies every request, FAIL_OPEN lets them pass."""
    mesh = applied.mesh
    url = f"oci://{mesh.registry}/wasm-workshop/never-pushed:{secrets.token_hex(4)}"
    name = f"unfetchable-{strategy.lower().replace('_', '-')}"
    applied.apply(name, wasmplugin(name, url, headers={"x-guard": "on"}, extra=f"  phase: AUTHN\n  failStrategy: {strategy}\n"))
    became = wait_until(lambda: next((f for f in mesh.status()["filters"] if f["name"] == ECDS.format(name)), None), timeout=60)
    assert became and became["kind"] == in_its_place, became
    errors = [line for line in mesh.status()["fetch_errors"] if url in line]
    assert errors and "MANIFEST_UNKNOWN" in errors[-1] and "cannot fetch Wasm module" in errors[-1], mesh.status()["fetch_errors"]
    response = wait_until(lambda: (r := http.request(mesh.inbound + "/get", timeout=5)).status == status and r, timeout=15)
    assert response, f"with {strategy} and no module, requests should get {status}"
    assert "x-guard" not in response.headers
    if status == 403:
        assert response.text == "RBAC: access denied"
    text = workshop("mesh", "status").stdout
    assert f"{in_its_place} in its place" in text and "The istio-agent could not fetch:" in text, text


def _pull_secret(name: str, registry: str, user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: default}}\ntype: kubernetes.io/dockerconfigjson\n"
            f"stringData:\n  .dockerconfigjson: '{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}'\n")


def test_a_wrong_pull_secret_is_refused_and_the_right_one_pulls(applied: Applied, private_image: Image) -> None:
    mesh = applied.mesh
    wrong_password = "not-" + secrets.token_hex(6)
    pull = "  imagePullPolicy: Always\n  imagePullSecret: {}\n"
    applied.apply("wrong-login", _pull_secret("wrong-login", mesh.private_registry, LOGIN[0], wrong_password)
                  + "---\n" + wasmplugin("wrong-login", private_image.url, headers={"x-pulled": "wrong"}, extra=pull.format("wrong-login")))
    became = wait_until(lambda: next((f for f in mesh.status()["filters"] if f["name"] == ECDS.format("wrong-login")), None), timeout=60)
    assert became and became["kind"] == "deny-all", became  # failStrategy unset: FAIL_CLOSE
    errors = [line for line in mesh.status()["fetch_errors"] if private_image.url in line]
    assert errors and "UNAUTHORIZED: authentication required" in errors[-1], mesh.status()["fetch_errors"]
    assert http.request(mesh.inbound + "/get", timeout=5).status == 403
    applied.apply("right-login", _pull_secret("right-login", mesh.private_registry, *LOGIN)
                  + "---\n" + wasmplugin("right-login", private_image.url, headers={"x-pulled": "right"}, extra=pull.format("right-login")))
    became = wait_until(lambda: (f := next((f for f in mesh.status()["filters"] if f["name"] == ECDS.format("right-login")), None))
                        and f["kind"] == "wasm" and f, timeout=60)
    assert became and became["module"].endswith(private_image.digest[7:] + ".wasm"), became
    assert mesh.kubectl("delete", "-f", str(applied.folder / "wrong-login.yaml")).returncode == 0
    # (the deny-all's 403 carries the header too: the right filter decorates the local reply until the wrong one is gone)
    response = wait_until(lambda: (r := http.request(mesh.inbound + "/get", timeout=5)).headers.get("x-pulled") == "right"
                          and r.status == 200 and r, timeout=30)
    assert response and response.status == 200, "with the wrong login gone, the privately pulled filter serves the traffic"
    for shown in (workshop("mesh", "status").stdout, workshop("mesh", "status", "--json").stdout):
        for secret in (LOGIN[1], wrong_password, base64.b64encode(f"{LOGIN[0]}:{LOGIN[1]}".encode()).decode()):
            assert secret not in shown, "`workshop mesh status` must never show a registry credential"


def test_a_filter_that_cannot_take_its_plugin_config_is_explained_in_envoys_words(applied: Applied, image: Image) -> None:
    """A bare number in pluginConfig reaches the filter as a JSON number; its OnPluginStart fails, Envoy refuses
    the filter, and `workshop mesh status` and a check's verdict give Envoy's words and the filter's."""
    from workshop.checking import CheckFailed
    from workshop.checking.commands import Deadline
    from workshop.checking.fixtures import Services
    from workshop.checking.mesh import Mesh

    mesh = applied.mesh
    done = applied.apply("numbered", wasmplugin("numbered", image.url, extra="  pluginConfig: {headers: {x-version: 2}}\n"))
    assert done.returncode == 0, done.stderr
    refused = wait_until(lambda: mesh.status()["refused_filters"], timeout=60)
    assert refused and "default.numbered" in refused[-1] and "cannot unmarshal number" in refused[-1], mesh.status()
    assert "refused a filter's configuration" in workshop("mesh", "status", env={**os.environ, **mesh.env}).stdout
    checks_see = Mesh(Services(), Deadline(60), [])
    with pytest.raises(CheckFailed) as failed:
        checks_see.explain_refused_filter("the filter could not start", "default", "numbered")
    assert "cannot unmarshal number" in failed.value.seen and "quote" in failed.value.hint
    checks_see.explain_refused_filter("another resource's filter was not refused", "default", "add-headers")  # no verdict
