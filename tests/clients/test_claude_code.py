"""The real Claude Code CLI (tests/clients/node_modules, `@anthropic-ai/claude-code`) run headless
by the README's recipe (recipes/claude_code.sh) against the live gateway: it finishes with the
fake upstream's answer, and every API call the fake upstream received has exactly one usage
record, `ok`, costing the fake's usage at the channel's prices. Once through an `anthropic`
channel (passthrough), once through an OpenAI-compatible one (translated)."""

import os
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.fake_upstream import reply_text
from bench.fake_upstream.anthropic_dialect import ANTHROPIC
from bench.fake_upstream.dialects import OPENAI
from bench.fake_upstream.faults import request_fault, split_model
from tests.clients.runner import CLIENTS, RECIPES
from tests.gateway.conftest import Gateway
from tests.gateway.providers_helpers import provider_channel

RECIPE = RECIPES / "claude_code.sh"
CLAUDE = CLIENTS / "node_modules" / ".bin" / "claude"
MAIN, SMALL = "claude-sonnet-4-5", "claude-haiku-4-5"
# Without tools called, Claude Code's agent loop ends at the first answer.
UPSTREAM = {
    "anthropic": {MAIN: "claude-main@no_tools=true", SMALL: "claude-small@no_tools=true"},
    "openai": {MAIN: "gpt-4o@no_tools=true", SMALL: "gpt-4o-mini@no_tools=true"},
}
PRICES = {MAIN: ("3", "15"), SMALL: ("1", "5")}
CALL_PATHS = ("/v1/messages", "/v1/chat/completions")
RUN_SECONDS = 150
# The user's own settings must not reach the run.
FOREIGN_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "OPENAI_")


def run_claude(gateway: Gateway, home: Path) -> subprocess.CompletedProcess[str]:
    """The recipe as its user runs it: a shell with `claude` on PATH, a fresh HOME."""
    assert CLAUDE.exists(), "run: npm ci --prefix tests/clients"
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        HOME=str(home),
        PATH=f"{CLAUDE.parent}{os.pathsep}{env.get('PATH', '')}",
        SWITCHYARD_BASE_URL=gateway.url + "/v1",
        SWITCHYARD_API_KEY=gateway.key,
        # Bounded: one try per call, a minute at most each, and the whole run under the timeout.
        CLAUDE_CODE_MAX_RETRIES="0",
        API_TIMEOUT_MS="60000",
    )
    return subprocess.run(  # noqa: S603 (sh on our own recipe)
        ["/bin/sh", str(RECIPE)],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def fake_usage(call: dict[str, Any]) -> tuple[str, int, int]:
    """(upstream model, prompt tokens, completion tokens) the fake upstream reported for a call,
    worked out again from the body it received, as it works them out."""
    body = call["body"]
    dialect = ANTHROPIC if call["path"] == "/v1/messages" else OPENAI
    name, directive = split_model(body["model"])
    plan = dialect.plan(body, name, request_fault(directive, ""), body.get("stream") is True)
    return body["model"], plan.prompt_tokens, plan.completion_tokens + plan.reasoning_tokens


def cost(model: str, prompt: int, completion: int) -> Decimal:
    input_price, output_price = (Decimal(p) for p in PRICES[model])
    return (input_price * prompt + output_price * completion) / Decimal(1_000_000)


@pytest.mark.parametrize("api_type", ["anthropic", "openai"])
def test_claude_code_runs_headless_on_the_gateway_and_every_call_is_billed_once(
    gateway: Gateway, tmp_path: Path, api_type: str
) -> None:
    for public, upstream in UPSTREAM[api_type].items():
        provider_channel(
            gateway,
            f"{api_type}-{public}",
            api_type=api_type,
            upstream_model=upstream,
            model=public,
            price=(*PRICES[public], None),
        )

    done = run_claude(gateway, tmp_path)

    assert done.returncode == 0, f"claude exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert reply_text() in done.stdout
    calls = [r for r in gateway.upstream.requests if r["path"] in CALL_PATHS]
    assert calls, "Claude Code made no API call"
    records = gateway.wait_records(len(calls))
    assert [(r.status, r.http_status, r.endpoint) for r in records] == [
        ("ok", 200, "messages")
    ] * len(calls)
    public_of = {upstream: public for public, upstream in UPSTREAM[api_type].items()}
    expected: Counter[tuple[str, int, int, Decimal]] = Counter()
    for call in calls:
        upstream, prompt, completion = fake_usage(call)
        public = public_of[upstream]
        expected[(public, prompt, completion, cost(public, prompt, completion))] += 1
    billed = Counter((r.model, r.prompt_tokens, r.completion_tokens, r.cost) for r in records)
    assert billed == expected
    assert any(r.model == MAIN for r in records)
