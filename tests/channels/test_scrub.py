"""`channels.scrub`: a channel's secret leaves no upstream text in any form an echo takes."""

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from channels.scrub import scrub, secret_scrubber
from core.log_filters import REDACTED
from tests.secret_shapes import SECRETS


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Each form: how a careless upstream might write the secret `s` into its error text.
FORMS = {
    "plain": lambda s: s,
    "bearer header": lambda s: f"Authorization: Bearer {s}",
    "query string": lambda s: f"GET /v1beta/models?key={s}&alt=sse",
    "quote": lambda s: quote(s, safe=""),
    "quote keeping /": quote,
    "quote_plus": quote_plus,
    "lower-case percent": lambda s: quote(s, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
    "json string": json.dumps,
    "json escaped slash": lambda s: json.dumps(s).replace("/", "\\/"),
    "base64": b64,
    "base64 url-safe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "basic user:secret": lambda s: "Basic " + b64("user:" + s),
    "basic secret:": lambda s: "Basic " + b64(s + ":"),
    "basic :secret": lambda s: "Basic " + b64(":" + s),
    "base64 of a header": lambda s: b64(f"x-api-key: {s}"),
    "prefix and ellipsis": lambda s: s[:10] + "...",
    "prefix and unicode ellipsis": lambda s: s[:8] + "…",
    "vendor mask": lambda s: s[:8] + "*" * 20 + s[-4:],
    "ellipsis and suffix": lambda s: "..." + s[-8:],
    "truncated echo": lambda s: s[: len(s) // 2 + 1],
    "middle run": lambda s: s[2 : 2 + max(12, (len(s) + 1) // 2)],
}


def leaked_pieces(secret: str) -> list[str]:
    """What must not survive: the secret's base64 core and any 8-character piece of it."""
    pieces = [secret[i : i + 8] for i in range(len(secret) - 7)]
    return [*pieces, b64(secret)[:12]]


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_every_form_of_the_secret_is_redacted(secret, form):
    leaked = form(secret)
    text = f"Upstream said: invalid credential {leaked} (request req_42)"

    scrubbed = scrub(text, secret)

    assert REDACTED in scrubbed
    assert scrubbed.startswith("Upstream said: invalid credential ")
    assert scrubbed.endswith(" (request req_42)")
    for piece in [leaked, *leaked_pieces(secret)]:
        assert piece not in scrubbed


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_every_form_at_once_in_a_json_body(secret):
    body = json.dumps({"error": {"message": " | ".join(f(secret) for f in FORMS.values())}})

    scrubbed = secret_scrubber(secret).payload(body.encode()).decode()

    assert REDACTED in json.loads(scrubbed)["error"]["message"]  # still valid JSON
    for piece in leaked_pieces(secret):
        assert piece not in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "Fake upstream injected HTTP 503 fault",
        "model gpt-4o-mini is overloaded, try again in 2 s",
        "",
        "AIzaSy is how Google keys begin; sk-proj- how OpenAI's do",
        "rate limit reached for requests, 60 per minute",
    ],
)
def test_text_without_the_secret_is_unchanged(text):
    assert scrub(text, SECRETS["gemini"]) == text
    assert scrub(text, SECRETS["openai"]) == text


def test_a_short_run_or_prefix_without_a_mask_is_kept():
    secret = SECRETS["hex"]

    assert scrub(f"digest {secret[:11]} of the body", secret) == f"digest {secret[:11]} of the body"


def test_a_secret_too_short_to_be_one_is_not_scrubbed():
    # A local server's placeholder "key" (Ollama's) would otherwise eat the word everywhere.
    assert scrub("ollama: model not loaded", "ollama") == "ollama: model not loaded"


def test_each_secret_is_compiled_once():
    assert secret_scrubber(SECRETS["groq"]) is secret_scrubber(SECRETS["groq"])
