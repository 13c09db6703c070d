"""The shape-based filter also knows Google's and Groq's key shapes (defence in depth: a
channel's own secret is scrubbed by `channels.scrub` wherever an upstream's text is read)."""

import logging

import pytest

from core.log_filters import REDACTED, ScrubSecretsFilter, scrub

GOOGLE = "AIzaSyD3kx9Q-7bT2mW8vL0pR4sN6yH1jF5cE_g"
GROQ = "gsk_Xy12ab34CD56ef78GH90ij12KL34mn56OP78qr90ST12uv34"


@pytest.mark.parametrize("key", [GOOGLE, GROQ], ids=["google", "groq"])
def test_google_and_groq_keys_are_scrubbed_from_log_lines(caplog, key):
    logger = logging.getLogger("tests.shapes")
    logger.addFilter(ScrubSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.shapes"):
            logger.info("upstream said: API key %s not valid", key)
    finally:
        logger.filters.clear()

    assert key not in caplog.text
    assert f"API key {REDACTED} not valid" in caplog.text


@pytest.mark.parametrize(
    "text", ["AIza is how Google keys begin", "gsk_ prefix", "models/gemini-2.5-flash"]
)
def test_the_bare_prefixes_are_not_keys(text):
    assert scrub(text) == text
