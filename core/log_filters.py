"""A logging filter that scrubs anything that looks like a credential from log records."""

import logging
import re

REDACTED = "[REDACTED]"

SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9_\-\.=:+/]{8,}"),
    re.compile(r"(?i)\b(x-api-key|x-goog-api-key|api[_-]?key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"),
    # Google's API keys and Groq's: shapes the `sk-` pattern misses. A channel's own secret,
    # whatever its shape, is scrubbed where an upstream's text is read (channels.scrub).
    re.compile(r"\b(?:AIza[A-Za-z0-9_\-]{30,}|gsk_[A-Za-z0-9]{20,})"),
)


def scrub(text: str) -> str:
    """Return `text` with every credential-looking substring replaced by a marker."""
    text = SECRET_PATTERNS[0].sub(REDACTED, text)
    text = SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = SECRET_PATTERNS[3].sub(REDACTED, text)
    return SECRET_PATTERNS[4].sub(REDACTED, text)


class ScrubSecretsFilter(logging.Filter):
    """Rewrite each record's message (arguments merged in) without credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        message = record.getMessage()
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
