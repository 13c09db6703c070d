"""The benchmark's load driver against an in-process fake upstream, and its pure figures maths."""

import asyncio
import os
from dataclasses import replace

import pytest

from bench.fake_upstream import fault_model, running_fake_upstream
from bench.load import (
    CHAT,
    MESSAGES,
    Samples,
    Scenario,
    Target,
    Usage,
    measure,
    probe,
    summarize,
)
from bench.plan import CHAT_DOOR, CLAUDE_MODEL, NATIVE_DOOR, TRANSLATED_DOOR
from bench.report import (
    DIRECT,
    GATEWAY,
    REFERENCE,
    TargetReport,
    checks,
    comparison,
    payload,
    render,
)
from bench.stats import difference, percentile, ratio

MODELS = {
    "plain": "gpt-4o-mini",
    "paced": fault_model("gpt-4o-mini", words=3, chunk_delay_ms=100),
    "broken": fault_model("gpt-4o-mini", status=503),
}
CLAUDE = {
    "plain": CLAUDE_MODEL,
    "paced": fault_model(CLAUDE_MODEL, words=3, chunk_delay_ms=100),
    "broken": fault_model(CLAUDE_MODEL, status=529),
}
EVENTS_PER_STREAM = 11  # role, 8 words, finish, [DONE]
# message_start, ping, content_block_start, 8 words, content_block_stop, message_delta,
# message_stop
MESSAGES_EVENTS_PER_STREAM = 14


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


def test_driver_speaks_messages_to_the_fake_upstream():
    with running_fake_upstream(api_key="sk-bench") as upstream:
        target = Target(DIRECT, upstream.base_url, "sk-bench", CLAUDE, wire=MESSAGES)
        plain, streams, paced, broken = _run(
            target,
            Scenario("ns", "plain", False, 4, count=20),
            Scenario("ttfb", "plain", True, 4, count=10),
            Scenario("paced", "paced", True, 5, count=5),
            Scenario("broken", "broken", False, 2, count=4),
        )
        sent = upstream.requests[0]

    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-bench"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["max_tokens"] > 100, "room for the longest bench answer"
    assert (plain.ok, plain.errors, plain.error_samples) == (20, 0, [])
    assert (streams.ok, streams.errors) == (10, 0)
    assert streams.chunks == 10 * MESSAGES_EVENTS_PER_STREAM
    assert (paced.ok, paced.errors) == (5, 0)
    assert 90 <= paced.gap_p99_ms < 500
    assert (broken.ok, broken.errors) == (0, 4)
    assert broken.error_samples[0].startswith('1 x HTTP 529: {"type":"error"')


def test_a_chat_answer_is_no_messages_answer():
    """The Messages wire counts only Anthropic-shaped answers: a chat completion or an OpenAI
    stream (what a door that forgot to translate would send) is an error."""
    with running_fake_upstream() as upstream:
        wrong_door = replace(MESSAGES, path=CHAT.path)
        target = Target(GATEWAY, upstream.base_url, "sk-bench", MODELS, wire=wrong_door)
        answers, streams = _run(
            target,
            Scenario("ns", "plain", False, 1, count=2),
            Scenario("ttfb", "plain", True, 1, count=2),
        )

    assert (answers.ok, answers.errors) == (0, 2)
    assert answers.error_samples[0].startswith('1 x HTTP 200: {"id":"chatcmpl-')
    assert (streams.ok, streams.errors) == (0, 2)
    assert streams.error_samples[0].startswith("2 x bad stream, ending: ")


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
    usage = Usage(cpu_s=cpu_s, driver_cpu_s=0.1, rss_kib_by_process=[(50_000, 130_000)])
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


def _runs(chat_ms, native_ms, translated_ms):
    chat, native = _reports(chat_ms), _reports(native_ms)
    translated = {**chat, GATEWAY: _reports(translated_ms)[GATEWAY]}
    return {CHAT_DOOR: chat, NATIVE_DOOR: native, TRANSLATED_DOOR: translated}


def _verdicts(runs):
    return {(c.door, c.name): c.met for c in checks(runs, paced_streams=1000)}


def test_report_adds_milliseconds_and_checks_targets():
    runs = _runs(chat_ms=5.0, native_ms=2.0, translated_ms=3.0)
    rows = {(r.door, r.scenario, r.metric): r for r in comparison(runs)}
    row = rows[CHAT_DOOR, "ns-c1", "p50 ms"]
    assert row.values == {DIRECT: 1.0, REFERENCE: 2.0, GATEWAY: 5.0}
    assert (row.gateway_per_direct, row.gateway_per_reference, row.added_ms) == (5.0, 2.5, 4.0)
    assert rows[NATIVE_DOOR, "ns-c1", "p50 ms"].added_ms == 1.0
    assert rows[TRANSLATED_DOOR, "ns-c1", "p50 ms"].added_ms == 2.0
    verdicts = _verdicts(runs)
    assert verdicts[CHAT_DOOR, "added latency p50 (c=1)"] is False
    assert verdicts[CHAT_DOOR, "added TTFB p50 (1 stream)"] is False
    assert verdicts[CHAT_DOOR, "CPU per relayed chunk"] is None  # that scenario was not run
    assert verdicts[NATIVE_DOOR, "added latency p50 (c=1)"] is True
    assert verdicts[TRANSLATED_DOOR, "added latency p50 (c=1)"] is True
    assert _verdicts(_runs(2.0, 2.0, 4.0))[TRANSLATED_DOOR, "added latency p50 (c=1)"] is False


def test_the_messages_doors_report_only_the_checked_scenarios():
    runs = _runs(chat_ms=2.0, native_ms=2.0, translated_ms=2.0)
    for door in (CHAT_DOOR, NATIVE_DOOR, TRANSLATED_DOOR):
        runs[door][GATEWAY].results["ns-c16"] = runs[door][GATEWAY].results["ns-c1"]
    scenarios = {door: {r.scenario for r in comparison(runs) if r.door == door} for door in runs}
    assert "ns-c16" in scenarios[CHAT_DOOR]
    assert "ns-c16" not in scenarios[NATIVE_DOOR] | scenarios[TRANSLATED_DOOR]
    checked = {name for door, name in _verdicts(runs) if door == NATIVE_DOOR}
    assert checked == {name for door, name in _verdicts(runs) if door == CHAT_DOOR}


def test_the_translated_door_shows_the_chat_doors_direct_and_reference_once():
    runs = _runs(chat_ms=2.0, native_ms=2.0, translated_ms=2.0)
    runs[CHAT_DOOR][DIRECT].failure = "direct broke"
    text = render(runs, comparison(runs), checks(runs, paced_streams=1000))
    assert "[messages (translated)] direct and reference: the chat door's figures" in text
    assert text.count("direct broke") == 1
    doors = payload({}, runs, comparison(runs), [])["doors"]
    assert set(doors[CHAT_DOOR]["targets"]) == {DIRECT, REFERENCE, GATEWAY}
    assert set(doors[TRANSLATED_DOOR]["targets"]) == {GATEWAY}
    assert doors[TRANSLATED_DOOR]["direct_and_reference_of"] == CHAT_DOOR


def test_report_names_a_failed_gateway():
    runs = _runs(chat_ms=2.0, native_ms=2.0, translated_ms=2.0)
    for door in runs:
        runs[door][GATEWAY] = TargetReport(GATEWAY, failure="migrate failed (1)")
    text = render(runs, comparison(runs), checks(runs, paced_streams=1000))
    assert "gateway (chat) failed: migrate failed (1)" in text
    assert "gateway (messages (native)) failed: as above" in text
    assert "n/a" in text
