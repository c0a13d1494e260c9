"""Step run: the learner's own Envoy, started with func-e, serves live traffic through the filter."""

import pytest

from workshop.checking import envoy_config as ec
from workshop.checking import fail
from workshop.env import http as httplib

HOW = "in your lab folder, run: func-e run -c envoy.yaml   (and keep it running)"


def running_envoy(envoy):
    proxy = envoy.attach(admin_port=9901, listen_port=10000)
    try:
        ready = proxy.admin("/ready", timeout=3).text.strip()
    except httplib.NoResponse as exc:
        fail(f"your Envoy is not running: {exc}", expected="Envoy's admin on 127.0.0.1:9901", hint=HOW)
    if ready != "LIVE":
        fail("your Envoy is not ready yet", seen=f"/ready says {ready}", hint="wait a moment and check again")
    return proxy


@pytest.mark.step("run", timeout=60)
def test_your_envoy_runs_your_filter_on_v8(envoy):
    """your running Envoy (admin 9901) has the Wasm filter on V8 in its live configuration"""
    proxy = running_envoy(envoy)
    found = [w for lst in ec.dumped_listeners(proxy.config_dump()) for w in map(ec.wasm_filter, ec.http_filters(lst)) if w]
    if not found:
        fail("the Envoy on 9901 runs without a Wasm filter", hint="restart it after editing envoy.yaml: " + HOW)
    if found[0].runtime != "envoy.wasm.runtime.v8":
        fail("the running Wasm filter is not on V8", seen=found[0].runtime)


@pytest.mark.step("run", timeout=60)
def test_requests_reach_httpbin_with_the_header(envoy, services, http):
    """a request through port 10000 reaches httpbin and comes back with x-wasm-workshop: hello"""
    services.ensure("httpbin")
    proxy = running_envoy(envoy)
    response = http.get(proxy.url + "/headers")
    if response.status == 503 and "upstream" in response.text:
        fail("Envoy answered 503: it cannot reach httpbin", seen=response.text.strip()[:120],
             hint="is httpbin up? `workshop env up httpbin`; and does your cluster point at 127.0.0.1:8080?")
    if response.status != 200 or '"headers"' not in response.text:
        fail("the request did not reach httpbin", expected="200 with httpbin's JSON echo of your headers",
             seen=f"{response.status}: {response.text.strip()[:120]}", hint="route / to the httpbin cluster")
    if response.header_values("x-wasm-workshop") != ["hello"]:
        fail("httpbin answered, but without your header", expected="x-wasm-workshop: hello",
             seen=", ".join(response.header_values("x-wasm-workshop")) or "no such header",
             hint="is the Wasm filter in the listener's http_filters, and plugin.wasm built from lab 01's code?")
