"""The benchmark's load driver against an in-process fake upstream, and its pure figures maths."""

import asyncio
import os

import pytest

from bench.fake_upstream import fault_model, running_fake_upstream
from bench.load import Samples, Scenario, Target, Usage, measure, probe, summarize
from bench.report import DIRECT, GATEWAY, REFERENCE, TargetReport, checks, comparison, render
from bench.stats import difference, percentile, ratio

MODELS = {
    "plain": "gpt-4o-mini",
    "paced": fault_model("gpt-4o-mini", words=3, chunk_delay_ms=100),
    "broken": fault_model("gpt-4o-mini", status=503),
}
EVENTS_PER_STREAM = 11  # role, 8 words, finish, [DONE]


def _run(target, *scenarios):
    async def all_of_them():
        return [await measure(target, scenario) for scenario in scenarios]

    return asyncio.run(all_of_them())


def test_driver_measures_the_fake_upstream():
    with running_fake_upstream() as upstream:
        target = Target(DIRECT, upstream.base_url, "sk-bench", MODELS, pid=os.getpid())
        plain, streams, paced, broken = _run(
            target,
            Scenario("ns", "plain", False, 4, count=40),
            Scenario("ttfb", "plain", True, 4, count=20),
            Scenario("paced", "paced", True, 10, count=10, sample_rss=True),
            Scenario("broken", "broken", False, 2, count=6),
        )
        elsewhere = Target(GATEWAY, f"{upstream.url}/v2", "sk-bench", MODELS)
        probes = [asyncio.run(probe(t, stream=True)) for t in (target, elsewhere)]

    assert (plain.ok, plain.errors, plain.error_samples) == (40, 0, [])
    assert 0 < plain.p50_ms <= plain.p99_ms < 1000
    assert plain.rps > 0
    assert plain.cpu_ms_per_request is not None
    assert (streams.ok, streams.errors) == (20, 0)
    assert streams.chunks == 20 * EVENTS_PER_STREAM
    assert 0 < streams.p50_ms <= streams.p99_ms
    assert (paced.ok, paced.errors) == (10, 0)
    assert 90 <= paced.gap_p99_ms < 500  # 100 ms between words
    assert paced.rss_peak_kib >= paced.rss_idle_kib > 0
    assert (broken.ok, broken.errors, broken.p50_ms) == (0, 6, None)
    assert broken.error_samples[0].startswith("6 x HTTP 503")
    assert probes[0] == ""
    assert probes[1].startswith("HTTP 404")


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 99, 7.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
        ([float(n) for n in range(1, 101)], 99, 99.01),
        ([1.0, 2.0], 100, 2.0),
        ([1.0, 2.0], 0, 1.0),
    ],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == (None if expected is None else pytest.approx(expected))


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_ratio_and_difference_tolerate_missing_figures():
    assert (ratio(3.0, 4.0), ratio(None, 4.0), ratio(3.0, 0.0)) == (0.75, None, None)
    assert (difference(3.0, 1.25), difference(3.0, None)) == (1.75, None)


def _result(target, scenario, latencies_s, cpu_s, **samples):
    usage = Usage(cpu_s=cpu_s, driver_cpu_s=0.1, rss_idle_kib=50_000, rss_peak_kib=130_000)
    data = Samples(latencies=latencies_s, wall_s=1.0, **samples)
    return summarize(Target(target, "", "", {}), scenario, data, usage)


def test_summarize_divides_cpu_and_memory():
    result = _result(DIRECT, Scenario("ns", "plain", False, 1000), [0.001, 0.002, 0.003], 0.03)
    assert (result.p50_ms, result.rps, result.cpu_ms_per_request) == (2.0, 3.0, 10.0)
    assert result.rss_kib_per_stream == 80.0


def test_summarize_counts_what_other_processes_used():
    usage = Usage(cpu_s=0.5, driver_cpu_s=0.1, helper_cpu_s=0.1, core_busy=[1.0, 0.9])
    data = Samples(latencies=[0.001], wall_s=1.0)
    result = summarize(Target(GATEWAY, "", "", {}), Scenario("ns", "plain", False, 1), data, usage)
    assert (result.cpu_utilization, result.driver_cpu_utilization) == (0.5, 0.1)
    assert result.other_load == pytest.approx(1.2)
    on_one_core = Target(GATEWAY, "", "", {}, cores=frozenset({1}))
    assert summarize(on_one_core, Scenario("ns", "plain", False, 1), data, usage).other_load == 0.2


def _reports(gateway_ms):
    ns, ttfb = Scenario("ns-c1", "plain", False, 1), Scenario("ttfb-c1", "plain", True, 1)
    reports = {}
    for name, latency in ((DIRECT, 0.001), (REFERENCE, 0.002), (GATEWAY, gateway_ms / 1000)):
        reports[name] = TargetReport(
            name,
            results={
                "ns-c1": _result(name, ns, [latency] * 10, 0.02),
                "ttfb-c1": _result(name, ttfb, [latency] * 10, 0.02, chunks=100),
            },
        )
    return reports


def test_report_adds_milliseconds_and_checks_targets():
    reports = _reports(gateway_ms=5.0)
    row = next(r for r in comparison(reports) if (r.scenario, r.metric) == ("ns-c1", "p50 ms"))
    assert row.values == {DIRECT: 1.0, REFERENCE: 2.0, GATEWAY: 5.0}
    assert (row.gateway_per_direct, row.gateway_per_reference, row.added_ms) == (5.0, 2.5, 4.0)
    verdicts = {check.name: check.met for check in checks(reports, paced_streams=1000)}
    assert verdicts["added latency p50 (c=1)"] is False
    assert verdicts["added TTFB p50 (1 stream)"] is False
    assert verdicts["CPU per relayed chunk"] is None  # that scenario was not run
    assert checks(_reports(gateway_ms=2.0), paced_streams=1000)[2].met is True


def test_report_names_a_failed_gateway():
    reports = _reports(gateway_ms=2.0)
    reports[GATEWAY] = TargetReport(GATEWAY, failure="migrate failed (1)")
    text = render(reports, comparison(reports), checks(reports, paced_streams=1000))
    assert "gateway failed: migrate failed (1)" in text
    assert "n/a" in text
