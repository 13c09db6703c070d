"""The fuzz suite's live gateway: the server as production runs it, in a subprocess, in front of
the fake upstream, with one account holding credit, its key, and channels of every dialect.

The gateway's stderr (its log) goes to a file, so a test can tell whether a request left a
traceback behind.
"""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings

from bench.fake_upstream import FakeUpstream
from billing.services import account_create, account_credit, api_key_create
from channels.services import ModelOffer, channel_create
from tests.fuzz.checks import Answer, violation

# Bounded, random on every run, and nothing written into the checkout (no example database).
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=False,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
        # Fixtures are the live gateway's (package, module) and the per-test cache reset.
        HealthCheck.function_scoped_fixture,
    ],
)

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "acme/claude"
GEMINI_MODEL = "acme/gemini"
SERVED_MODELS = (OPENAI_MODEL, ANTHROPIC_MODEL, GEMINI_MODEL)
NORMAL_BODY = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]}
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class LiveGateway:
    """The running gateway process, its URL, a key with credit, and its log."""

    url: str
    process: subprocess.Popen[bytes]
    key: str
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_size(self) -> int:
        """Where the log ends now: pass it to `log_since` after a request."""
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the gateway logged after `offset`."""
        with self.log.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", "replace")

    def assert_serving(self) -> None:
        """The process is alive and answers a normal chat request with 200."""
        assert self.process.poll() is None, f"the gateway exited with {self.process.returncode}"
        response = httpx.post(
            self.url + "/v1/chat/completions",
            json=NORMAL_BODY,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["role"] == "assistant"


@contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path` for the block, so a process started in it logs there."""
    with path.open("ab") as file:
        saved = os.dup(2)
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def stock(upstream: FakeUpstream) -> str:
    """An account with credit, its key, and a channel of each dialect on the fake upstream (two
    OpenAI ones, so `provider` routing and fallbacks have a choice); returns the key."""
    account = account_create(name="fuzz")
    account_credit(account=account, amount=Decimal(100_000))
    _, secret = api_key_create(account=account, name="fuzz")
    channels: list[dict[str, Any]] = [
        {"name": "fuzz-openai", "provider": "openai", "api_type": "openai", "model": OPENAI_MODEL},
        {"name": "fuzz-backup", "provider": "backup", "api_type": "openai", "model": OPENAI_MODEL},
        {"name": "fuzz-claude", "provider": "anthropic", "api_type": "anthropic"},
        {"name": "fuzz-gemini", "provider": "google", "api_type": "gemini"},
    ]
    upstream_models = {
        "openai": (OPENAI_MODEL, OPENAI_MODEL),
        "anthropic": (ANTHROPIC_MODEL, "claude-sonnet-4-5"),
        "gemini": (GEMINI_MODEL, "gemini-2.5-flash"),
    }
    for channel in channels:
        api_type = channel["api_type"]
        public, upstream_model = upstream_models[api_type]
        channel_create(
            name=channel["name"],
            provider=channel["provider"],
            api_type=api_type,
            base_url=upstream.base_url if api_type == "openai" else upstream.url,
            api_key="sk-upstream-fuzz-" + channel["name"],
            models=[
                ModelOffer(
                    model=public,
                    upstream_model=upstream_model,
                    input_price=Decimal("0.1"),
                    output_price=Decimal("0.2"),
                )
            ],
        )
    return secret


@dataclass(frozen=True)
class FuzzRequest:
    """One request as sent: `path` is the raw request target (percent-encoded, query included)."""

    method: str
    path: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | None = None

    def describe(self) -> str:
        headers = {name.decode("latin-1"): value[:200] for name, value in self.headers}
        body = None if self.body is None else self.body[:600]
        more = "" if self.body is None or len(self.body) <= 600 else f" … ({len(self.body)} bytes)"
        return f"{self.method} {self.path[:300]}\nheaders: {headers}\nbody: {body!r}{more}"


def exchange(live: LiveGateway, client: httpx.Client, request: FuzzRequest) -> Answer:
    """Send `request` (httpx resolves `..` segments, as every client does) and assert the answer
    meets the rule in `tests.fuzz.checks` for the path sent, and that the gateway logged no
    traceback meanwhile."""
    offset = live.log_size()
    built = client.build_request(
        request.method, "/", headers=list(request.headers), content=request.body
    )
    built.url = built.url.copy_with(raw_path=request.path.encode("ascii"))
    sent_path = built.url.raw_path.decode("ascii")
    try:
        response = client.send(built)
    except httpx.TransportError as error:
        raise AssertionError(
            f"no answer ({error!r}) to\n{request.describe()}\n{_log_note(live, offset)}"
        ) from error
    answer = Answer(response.status_code, response.headers, response.content)
    problem = violation(answer, method=request.method, path=sent_path)
    logged = live.log_since(offset)
    if problem is None and TRACEBACK in logged:
        problem = "the gateway logged a traceback"
    assert problem is None, (
        f"{problem}\nrequest: {request.describe()}\nsent path: {sent_path[:300]}\n"
        f"answer: {answer.status} {answer.content_type} {answer.excerpt()}\n"
        f"{_log_note(live, offset)}"
    )
    return answer


def _log_note(live: LiveGateway, offset: int) -> str:
    logged = live.log_since(offset).strip()
    return f"gateway log:\n{logged[-3000:]}" if logged else "gateway log: (nothing)"
