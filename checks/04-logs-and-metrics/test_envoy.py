"""Steps metric and logs: in a real Envoy, the filter counts the requests that carry a hello header
in a counter that Envoy shows at /stats/prometheus, and logs one info line for each of them."""

from __future__ import annotations

import re
import secrets
import time

import pytest

from workshop.checking import fail
from workshop.core import waiting
from workshop.env import envoy as envoylib
from workshop.env.envoy import wasm_crash

METRIC = "wasm_workshop_hello_requests"
SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})? (\S+)$")


def _send(proxy, http, with_hello: int, without: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Send requests, with and without a hello header, interleaved; returns the hello values sent."""
    tag = secrets.token_hex(3)
    values = [f"learner-{tag}-{i}" for i in range(with_hello)]
    plan = [v for pair in zip(values, [None] * without) for v in pair]
    plan += values[without:] + [None] * (without - with_hello)
    for value in plan:
        response = http.get(proxy.url + "/", headers={"hello": value} if value else None)
        if response.status >= 500:
            crash = wasm_crash(proxy.wait_for_log(" failed: "))
            fail(f"Envoy answered {response.status}" + (": your filter crashed" if crash else ""),
                 seen=crash or response.text.strip()[:200],
                 hint="a panic in the filter kills its VM: is the counter defined before you increment it?")
    return values


def _prometheus(proxy) -> dict[str, tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    """name -> (type, labels, value) for every sample at /stats/prometheus."""
    types: dict[str, str] = {}
    out: dict[str, tuple[str, str, float]] = {}
    for line in proxy.admin("/stats/prometheus").text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        m = SAMPLE.match(line.strip())
        if m:
            out[m.group(1)] = (types.get(m.group(1), ""), m.group(2) or "", float(m.group(3)))
    return out


@pytest.mark.step("metric", timeout=120)
def test_the_counter_counts_hello_requests(go, envoy, http):
    """/stats/prometheus shows wasm_workshop_hello_requests = the number of requests with a hello header"""
    module = go.build_wasm(inspect=False)
    proxy = envoy.run_filter(module.path)
    n, m = 3, 2
    _send(proxy, http, n, m)
    samples = _prometheus(proxy)
    # Metrics a filter defines are not prefixed with envoy_ (Envoy keeps them in its wasmcustom namespace).
    mine = {name: s for name, s in samples.items() if not name.startswith("envoy_")}
    shown = "\n".join(f"{name}{labels} {value:g}  ({kind or 'untyped'})"
                      for name, (kind, labels, value) in sorted(mine.items())) or "no metric from your filter"
    sent = f"{n} requests with a hello header and {m} without"
    if METRIC not in samples:
        near = [name for name, (_, _, value) in mine.items() if value in (n, n + m, 2 * n)]
        if near:
            fail(f"your metric is named {near[0]}, but the lab fixes its name", expected=f"{METRIC} {n}", seen=shown,
                 hint=f'define it with proxywasm.DefineCounterMetric("{METRIC}"): dashboards and the checks look for that name')
        fail(f"/stats/prometheus shows no {METRIC}", expected=f"{METRIC} {n}", seen=shown,
             hint=f'define the counter in OnPluginStart with proxywasm.DefineCounterMetric("{METRIC}")')
    kind, labels, value = samples[METRIC]
    if kind != "counter":
        fail(f"{METRIC} is a {kind or 'metric of another kind'}, not a counter", expected=f"# TYPE {METRIC} counter",
             seen=shown, hint=f'define it with proxywasm.DefineCounterMetric("{METRIC}"), not DefineGaugeMetric')
    if value == n:
        return
    seen = f"{METRIC}{labels} {value:g}"
    if value == 0:
        fail(f"{METRIC} is still 0 after {sent}", expected=f"{METRIC} {n}", seen=seen,
             hint='in OnHttpRequestHeaders, when proxywasm.GetHttpRequestHeader("hello") finds the header, call Increment(1)')
    if value == n + m:
        fail(f"{METRIC} counts every request, not only those with a hello header", expected=f"{METRIC} {n} after {sent}",
             seen=seen, hint='increment only when GetHttpRequestHeader("hello") returns no error')
    if value == 2 * n:
        fail(f"{METRIC} counts each hello request twice", expected=f"{METRIC} {n} after {sent}", seen=seen,
             hint="increment once per request, in OnHttpRequestHeaders only")
    fail(f"{METRIC} is off", expected=f"{METRIC} {n} after {sent}", seen=seen,
         hint="increment by 1, once per request that carries a hello header")


@pytest.mark.step("logs", timeout=120)
def test_each_hello_request_logs_its_value(go, envoy, http):
    """Envoy's log holds one info line from your filter per hello request, naming the header's value"""
    module = go.build_wasm(inspect=False)
    proxy = envoy.run_filter(module.path)
    proxy.mark_log()
    values = _send(proxy, http, 3, 2)
    # Envoy flushes its log file every 10 ms
    waiting.until(lambda: proxy.wasm_log_lines(proxy.log_since_mark()),
                  lambda lines: all(any(v in ln for ln in lines) for v in values), timeout=1.0, every=0.01)
    time.sleep(0.03)  # one more flush, to see lines beyond the expected ones
    lines = proxy.wasm_log_lines(proxy.log_since_mark())
    said = [envoylib.plain(ln) for ln in lines]
    shown = "\n".join(said[:10]) or "no 'wasm log' lines"
    missing = [v for v in values if not any(v in ln for ln in lines)]
    if missing:
        about = "hello" in "\n".join(lines).lower()
        fail("no log line names the value of the hello header" if about or len(missing) == len(values)
             else f"no log line names the hello value {missing[0]}",
             expected=f"one info line per hello request naming its value, e.g. `hello from {values[0]}`",
             seen=shown, hint='log it in OnHttpRequestHeaders: proxywasm.LogInfof("hello from %s", value)')
    for value in values:
        mine = [ln for ln in lines if value in ln]
        if len(mine) > 1:
            fail(f"the hello request {value} gave {len(mine)} log lines naming it", expected="exactly one",
                 seen="\n".join(envoylib.plain(ln) for ln in mine), hint="log the hello value once per request")
        if "[info][wasm]" not in mine[0]:
            fail("the hello line is not at info level", seen=envoylib.plain(mine[0]),
                 hint="log it with proxywasm.LogInfof")
    # The learner's own line, with the value cut out, must not show up for requests without the header.
    texts = [_message(ln) for ln in lines]
    sample = next(t for t in texts if values[0] in t)
    before, after = sample.split(values[0], 1)
    template = re.compile(re.escape(before) + r"(\S*)" + re.escape(after) + "$")
    extra = [t for t in texts if (m := template.match(t)) and m.group(1) not in values]
    if extra:
        fail(f"requests without a hello header gave hello lines too ({len(extra)} of them)",
             expected=f"{len(values)} lines, one per request with a hello header",
             seen="\n".join(extra[:4]), hint='log only when proxywasm.GetHttpRequestHeader("hello") returns no error')


def _message(line: str) -> str:
    """What the filter logged: the text after Envoy's 'wasm log <plugin> <root> <vm>: ' prefix."""
    return line.split("wasm log ", 1)[-1].split(": ", 1)[-1]
