"""The load driver: bounded asyncio + aiohttp scenarios against 127.0.0.1, with CPU and RSS."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import aiohttp
import orjson

from bench.procfs import busy_fractions, core_ticks, cpu_seconds, rss_kib
from bench.stats import ms, percentile

PROMPT = [{"role": "user", "content": "Hello, benchmark"}]
MAX_TOKENS = 1024  # Messages requests must say; far above the longest bench answer (100 words)
RSS_SAMPLE_INTERVAL_S = 0.05
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10)
DATA = b"data:"
MAX_ERROR_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Wire:
    """A front door's protocol as the driver speaks it: path, credentials, body, good answers."""

    name: str
    path: str  # below the API root
    key_header: str
    key_scheme: str
    headers: Mapping[str, str]
    body_fields: Mapping[str, object]  # besides model, the prompt and stream
    answer_marker: bytes  # in every good non-stream answer
    stream_end: bytes  # in the last event of every good stream
    error_event: bytes  # an in-band error in a stream
    prompt_field: str = "messages"  # the body field the prompt goes in
    answer_status: str | None = None  # the top-level `status` of every good answer, if any

    def session_headers(self, api_key: str) -> dict[str, str]:
        """What every request carries: the key as this protocol sends it, and its headers."""
        scheme = f"{self.key_scheme} " if self.key_scheme else ""
        return {
            **self.headers,
            self.key_header: scheme + api_key,
            "Content-Type": "application/json",
        }

    def body(self, model: str, *, stream: bool) -> bytes:
        """The request body for `model`."""
        fields = {"model": model, **self.body_fields, self.prompt_field: PROMPT, "stream": stream}
        return orjson.dumps(fields)

    def answered(self, data: bytes) -> bool:
        """Whether a 200's body is a good non-stream answer of this protocol."""
        if self.answer_marker not in data:
            return False
        return self.answer_status is None or _status(data) == self.answer_status

    def ended(self, stream: bytes) -> bool:
        """Whether a stream's last event is this protocol's closing one."""
        events = stream.rstrip()
        return self.stream_end in events[events.rfind(b"\n\n") + 1 :]


def _status(data: bytes) -> object:
    """The top-level `status` of a JSON object body (None for anything else)."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return answer.get("status") if isinstance(answer, dict) else None


CHAT = Wire(
    name="chat",
    path="/chat/completions",
    key_header="Authorization",
    key_scheme="Bearer",
    headers={},
    body_fields={},
    answer_marker=b'"choices"',
    stream_end=b"data: [DONE]",
    error_event=b'data: {"error"',
)
MESSAGES = Wire(
    name="messages",
    path="/messages",
    key_header="x-api-key",
    key_scheme="",
    headers={"anthropic-version": "2023-06-01"},
    body_fields={"max_tokens": MAX_TOKENS},
    answer_marker=b'"type":"message"',
    stream_end=b'data: {"type":"message_stop"}',
    error_event=b"event: error",
)
RESPONSES = Wire(
    name="responses",
    path="/responses",
    key_header="Authorization",
    key_scheme="Bearer",
    headers={},
    # Not stored (store false, as Codex sends it): the chat door stores no answer either.
    body_fields={"max_output_tokens": MAX_TOKENS, "store": False},
    answer_marker=b'"object":"response"',
    stream_end=b"event: response.completed",
    error_event=b"event: error",
    prompt_field="input",
    answer_status="completed",
)


@dataclass(frozen=True, slots=True)
class Target:
    """A server under load: its API root, key, model names by kind, the pids to watch, and the
    protocol it is spoken to in (OpenAI chat completions unless said)."""

    name: str
    base_url: str
    api_key: str
    models: Mapping[str, str]
    pid: int | None = None  # the server's (first) process, whose CPU and RSS are measured
    helper_pids: tuple[int, ...] = ()  # the benchmark's other processes, e.g. the upstream
    cores: frozenset[int] | None = None  # where all of them and the driver run; None: anywhere
    wire: Wire = CHAT
    sibling_pids: tuple[int, ...] = ()
    """The server's other processes (a cluster's other gateways): CPU counted with `pid`'s."""
    front_pids: tuple[int, ...] = ()
    """A proxy in front of the server (nginx's processes): its CPU is reported apart."""

    @property
    def server_pids(self) -> tuple[int, ...]:
        """Every process of the server: `pid` and its siblings (none without `pid`)."""
        return () if self.pid is None else (self.pid, *self.sibling_pids)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One bounded load: `concurrency` workers for `duration_s` seconds or `count` requests."""

    name: str
    model: str
    stream: bool
    concurrency: int
    duration_s: float | None = None
    count: int | None = None
    sample_rss: bool = False


@dataclass(slots=True)
class Samples:
    """Raw observations of one scenario run (latency = total, or time to first data event)."""

    latencies: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    chunks: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    def fail(self, reason: str) -> None:
        """Count one failed request under a short reason."""
        self.errors[reason[:200]] += 1


@dataclass(frozen=True, slots=True)
class Usage:
    """What the server's processes (summed), the driver, the helpers and the front proxy spent
    during a scenario; the (idle, peak) RSS of each of the server's processes."""

    cpu_s: float | None = None
    driver_cpu_s: float | None = None
    helper_cpu_s: float = 0.0
    core_busy: list[float] = field(default_factory=list)
    front_cpu_s: float | None = None
    rss_kib_by_process: list[tuple[int, int]] = field(default_factory=list)
    """(idle, peak) RSS of each server process, when sampled."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The figures of one scenario on one target (times in ms, memory in KiB)."""

    scenario: str
    target: str
    stream: bool
    concurrency: int
    ok: int
    errors: int
    error_samples: list[str]
    wall_s: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    chunks: int
    gap_p99_ms: float | None
    cpu_ms_per_request: float | None
    cpu_ms_per_chunk: float | None
    cpu_utilization: float | None
    driver_cpu_utilization: float | None
    rss_idle_kib: int | None
    rss_peak_kib: int | None
    rss_kib_per_stream: float | None
    core_busy: list[float]
    other_load: float | None
    front_cpu_ms_per_request: float | None = None
    """nginx's CPU per request, when the server is behind it (not in `cpu_ms_per_request`)."""
    rss_kib_by_process: list[tuple[int, int]] = field(default_factory=list)
    """(idle, peak) RSS of each server process; `rss_idle_kib` and `rss_peak_kib` are the
    largest process's, `rss_kib_per_stream` the growth of all of them ÷ streams."""


def _snippet(data: bytes) -> str:
    """The start of a body on one line, for error samples."""
    return " ".join(data[:400].decode("utf-8", "replace").split())[:160]


async def _call(
    session: aiohttp.ClientSession, wire: Wire, url: str, body: bytes, samples: Samples
) -> None:
    start = time.perf_counter()
    try:
        async with session.post(url, data=body) as response:
            data = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        samples.fail(f"{type(exc).__name__}: {exc}")
        return
    if response.status != 200 or not wire.answered(data):
        samples.fail(f"HTTP {response.status}: {_snippet(data)}")
        return
    samples.latencies.append(time.perf_counter() - start)


async def _stream(
    session: aiohttp.ClientSession, wire: Wire, url: str, body: bytes, samples: Samples
) -> None:
    start = time.perf_counter()
    parts: list[bytes] = []
    gaps: list[float] = []
    first: float | None = None
    last_event = 0.0
    tail = b""
    try:
        async with session.post(url, data=body) as response:
            if response.status != 200:
                samples.fail(f"HTTP {response.status}: {_snippet(await response.read())}")
                return
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                window = tail + chunk
                tail = window[-(len(DATA) - 1) :]  # a marker split across reads counts once
                parts.append(chunk)
                if DATA in window:
                    if first is None:
                        first = now - start
                    else:
                        gaps.append(now - last_event)
                    last_event = now
    except (aiohttp.ClientError, TimeoutError) as exc:
        samples.fail(f"{type(exc).__name__}: {exc}")
        return
    text = b"".join(parts)
    if first is None or not wire.ended(text) or wire.error_event in text:
        samples.fail(f"bad stream, ending: {_snippet(text[-160:])}")
        return
    samples.latencies.append(first)
    samples.gaps.extend(gaps)
    samples.chunks += text.count(DATA)


async def drive(session: aiohttp.ClientSession, target: Target, scenario: Scenario) -> Samples:
    """Run one scenario's workers to the end of its duration or request budget."""
    wire = target.wire
    url = target.base_url + wire.path
    body = wire.body(target.models[scenario.model], stream=scenario.stream)
    call = _stream if scenario.stream else _call
    samples = Samples()
    remaining = scenario.count if scenario.count is not None else -1  # -1: no request budget
    start = time.perf_counter()
    deadline = start + scenario.duration_s if scenario.duration_s is not None else None

    async def worker() -> None:
        nonlocal remaining
        while remaining != 0 and (deadline is None or time.perf_counter() < deadline):
            remaining -= 1
            await call(session, wire, url, body, samples)

    await asyncio.gather(*(worker() for _ in range(scenario.concurrency)))
    samples.wall_s = time.perf_counter() - start
    return samples


def _session(target: Target) -> aiohttp.ClientSession:
    headers = target.wire.session_headers(target.api_key)
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=REQUEST_TIMEOUT, auto_decompress=False
    )


async def probe(target: Target, *, stream: bool) -> str:
    """Send one request of this kind: "" when it succeeds, else why it failed."""
    async with _session(target) as session:
        samples = await drive(session, target, Scenario("probe", "plain", stream, 1, count=1))
    return next(iter(samples.errors), "")


async def _peak_rss(pids: tuple[int, ...], stop: asyncio.Event) -> list[int]:
    peaks = [rss_kib(pid) for pid in pids]
    while not stop.is_set():
        await asyncio.sleep(RSS_SAMPLE_INTERVAL_S)
        peaks = [max(peak, rss_kib(pid)) for peak, pid in zip(peaks, pids, strict=True)]
    return peaks


def _driver_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _helpers_cpu(target: Target) -> float:
    return _cpu(pid for pid in target.helper_pids if pid not in target.server_pids)


def _cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def measure(target: Target, scenario: Scenario) -> ScenarioResult:
    """Run a scenario on a fresh session, watching the CPU of the target's processes summed
    and of its front proxy apart (and the RSS of each process if asked)."""
    pids, watched = target.server_pids, bool(target.server_pids)
    async with _session(target) as session:
        rss_idle = [rss_kib(pid) for pid in pids] if scenario.sample_rss else []
        stop = asyncio.Event()
        sampler = asyncio.create_task(_peak_rss(pids, stop)) if rss_idle else None
        cpu_before, front_before = _cpu(pids), _cpu(target.front_pids)
        driver_before, helpers_before, cores_before = (
            _driver_cpu(),
            _helpers_cpu(target),
            core_ticks(),
        )
        samples = await drive(session, target, scenario)
        driver_cpu, helpers_cpu = (
            _driver_cpu() - driver_before,
            _helpers_cpu(target) - helpers_before,
        )
        busy = busy_fractions(cores_before, core_ticks())
        cpu = _cpu(pids) - cpu_before if watched else None
        front = _cpu(target.front_pids) - front_before if target.front_pids else None
        stop.set()
        rss_peak = await sampler if sampler is not None else []
    by_process = list(zip(rss_idle, rss_peak, strict=True))
    usage = Usage(
        cpu, driver_cpu, helpers_cpu, busy, front_cpu_s=front, rss_kib_by_process=by_process
    )
    return summarize(target, scenario, samples, usage)


def _per(total_s: float | None, count: int) -> float | None:
    return None if total_s is None or count == 0 else round(total_s * 1000 / count, 4)


def _utilization(cpu_s: float | None, wall_s: float) -> float | None:
    return round(cpu_s / wall_s, 2) if cpu_s is not None and wall_s else None


def _other_load(target: Target, usage: Usage, wall_s: float) -> float | None:
    """Cores' worth of the target's CPUs used by others than the target, driver and helpers."""
    if usage.cpu_s is None or usage.driver_cpu_s is None or not usage.core_busy or not wall_s:
        return None
    busy = sum(
        share
        for core, share in enumerate(usage.core_busy)
        if target.cores is None or core in target.cores
    )
    own = usage.cpu_s + usage.driver_cpu_s + usage.helper_cpu_s + (usage.front_cpu_s or 0.0)
    own /= wall_s
    return round(max(busy - own, 0.0), 2)


def summarize(target: Target, scenario: Scenario, samples: Samples, usage: Usage) -> ScenarioResult:
    """Turn raw samples and resource use into the reported figures."""
    ok = len(samples.latencies)
    wall = samples.wall_s
    by_process = usage.rss_kib_by_process
    per_stream = rss_idle = rss_peak = None
    if by_process:  # the largest process's pair; the growth of all of them per stream
        rss_idle, rss_peak = max(by_process, key=lambda pair: pair[1])
        growth = sum(peak for _, peak in by_process) - sum(idle for idle, _ in by_process)
        per_stream = round(growth / scenario.concurrency, 1) if ok else None
    return ScenarioResult(
        scenario=scenario.name,
        target=target.name,
        stream=scenario.stream,
        concurrency=scenario.concurrency,
        ok=ok,
        errors=sum(samples.errors.values()),
        error_samples=[f"{n} x {why}" for why, n in samples.errors.most_common(MAX_ERROR_SAMPLES)],
        wall_s=round(wall, 3),
        rps=round(ok / wall, 1) if wall else 0.0,
        p50_ms=ms(percentile(samples.latencies, 50)),
        p99_ms=ms(percentile(samples.latencies, 99)),
        chunks=samples.chunks,
        gap_p99_ms=ms(percentile(samples.gaps, 99)),
        cpu_ms_per_request=_per(usage.cpu_s, ok),
        cpu_ms_per_chunk=_per(usage.cpu_s, samples.chunks),
        cpu_utilization=_utilization(usage.cpu_s, wall),
        driver_cpu_utilization=_utilization(usage.driver_cpu_s, wall),
        rss_idle_kib=rss_idle,
        rss_peak_kib=rss_peak,
        rss_kib_per_stream=per_stream,
        core_busy=usage.core_busy,
        other_load=_other_load(target, usage, wall),
        front_cpu_ms_per_request=_per(usage.front_cpu_s, ok),
        rss_kib_by_process=by_process,
    )
