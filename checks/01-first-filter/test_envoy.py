"""Step envoy: the filter changes live traffic in a real Envoy."""

import time

import pytest

from workshop.checking import fail
from workshop.core import waiting
from workshop.env.envoy import wasm_crash

HEADER, VALUE = "x-wasm-workshop", "hello"
REQUESTS = 3


@pytest.mark.step("envoy", timeout=120)
@pytest.mark.early_envoy
def test_envoy_adds_header_and_logs(go, envoy, http):
    """in Envoy, every response carries x-wasm-workshop: hello and each request logs a line"""
    module = go.build_wasm(inspect=False)
    proxy = envoy.run_filter(module.path)
    proxy.mark_log()
    for path in ("/", "/status/418", "/anything?x=1")[:REQUESTS]:
        response = http.get(proxy.url + path)
        if response.status >= 500:
            crash = wasm_crash(proxy.wait_for_log(" failed: "))
            if crash:
                fail(f"your filter crashed on {path}, so Envoy answered {response.status}", seen=crash,
                     hint="a panic in the filter kills its VM: fix it and test with `go test` first")
            fail(f"Envoy answered {path} with {response.status}", seen=response.text.strip()[:200],
                 hint="look at Envoy's log in the details")
        got = response.header_values(HEADER)
        if got != [VALUE]:
            fail(f"the response to {path} does not carry the header", expected=f"{HEADER}: {VALUE}",
                 seen=f"{HEADER}: {', '.join(got)}" if got else f"no {HEADER} header",
                 hint="add it in OnHttpResponseHeaders with proxywasm.AddHttpResponseHeader")
    # Envoy flushes its log file every 10 ms
    waiting.until(lambda: proxy.wasm_log_lines(proxy.log_since_mark()), lambda lines: len(lines) >= REQUESTS,
                  timeout=1.0, every=0.01)
    time.sleep(0.02)  # two more flushes, to see lines beyond the expected ones
    lines = proxy.wasm_log_lines(proxy.log_since_mark())
    if len(lines) != REQUESTS:
        fail(f"the filter should log one line per request: {REQUESTS} requests gave {len(lines)} lines",
             seen="\n".join(ln.split("wasm log", 1)[-1].strip() for ln in lines[:6]) or "no 'wasm log' lines",
             hint="call proxywasm.LogInfof once in OnHttpResponseHeaders")
