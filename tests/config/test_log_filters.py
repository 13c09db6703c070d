"""The logging filter keeps credentials out of every log line."""

import logging

import pytest

from core.log_filters import REDACTED, ScrubSecretsFilter, scrub

SECRET = "sk-sy-AbCdEfGh1234567890abcdefghijklmnop"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"auth with {SECRET} failed", SECRET),
        ("Authorization: Bearer abcdef0123456789abcdef", "abcdef0123456789abcdef"),
        ("Token 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"),
        ('{"x-api-key": "ant-secret-value-123"}', "ant-secret-value-123"),
        ("api_key=verysecretvalue42", "verysecretvalue42"),
        ("cipher gAAAAABmZ3x1234567890abcdefghijklmnopqrstuvwxyz", "gAAAAABmZ3x1234567890"),
    ],
)
def test_scrub_removes_credentials(text, leaked):
    scrubbed = scrub(text)

    assert leaked not in scrubbed
    assert REDACTED in scrubbed


def test_scrub_keeps_ordinary_text():
    assert scrub("channel openai-1 answered 200 in 35 ms") == (
        "channel openai-1 answered 200 in 35 ms"
    )


def test_filter_scrubs_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("tests.scrub")
    logger.addFilter(ScrubSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.scrub"):
            logger.info("key %s was used", SECRET)
            try:
                raise ValueError(f"upstream rejected {SECRET}")
            except ValueError:
                logger.exception("relay failed")
    finally:
        logger.filters.clear()

    assert SECRET not in caplog.text
    assert "key [REDACTED] was used" in caplog.text
    assert "upstream rejected [REDACTED]" in caplog.text
