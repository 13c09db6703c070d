"""Scrub one channel's secret out of an upstream's text: the exact secret and its obvious forms.

The shape-based log filter (`core.log_filters`) only knows what keys usually look like
(`sk-…`); an upstream that echoes an `AIza…`, hex or `gsk_…` key in its error passes it. Every
upstream text that becomes a failure is therefore scrubbed with the channel's own secret, where
it is read, before a client, a record, a log line or a page can see it. Replaced, with
`core.log_filters.REDACTED`:

- the secret as is, URL-encoded (`quote`, `quote_plus`, upper- or lower-case `%xx`) and
  JSON-escaped (`\\uXXXX` for non-ASCII, `\\/` for `/`, once or twice: a JSON body quoted
  inside another); `Bearer <secret>` and `key=<secret>` are covered by the plain form;
- base64 (standard and URL-safe alphabet) of any text that contains the secret: the secret
  alone, `user:secret`, `secret:` and `:secret` of Basic auth, a whole header. The whole base64
  word containing it is replaced;
- partial leaks: a prefix of at least 8 characters cut by a mask (`...`, `…`, `**`), with
  whatever end of the secret follows the mask; a mask followed by the last 8 or more
  characters; and any run of consecutive characters of the secret at least
  max(12, half the secret) long (a truncated echo).

Secrets shorter than 8 characters are not scrubbed (`ollama` as a local server's "key" would
eat the word everywhere). Matching is case-sensitive, as upstreams echo what they received.
"""

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus

from core.log_filters import REDACTED

MIN_SECRET_CHARS = 8
MIN_PREFIX_CHARS = 8
MIN_SUFFIX_CHARS = 8
MIN_RUN_CHARS = 12
_MASK = r"(?:\.{2,}|(?:…|\\u2026)+|\*{2,})"
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


@dataclass(frozen=True, slots=True)
class SecretScrubber:
    """The precomputed patterns of one secret; call it on a text to scrub it."""

    secret: str
    forms: re.Pattern[str] | None
    """The secret in its text encodings and its masked forms."""
    base64: re.Pattern[str] | None
    """The base64 of the secret's bytes at each of the three alignments in a longer text."""
    grams: re.Pattern[str] | None
    """Every MIN_RUN_CHARS-long piece of the secret: where a leaked run may start."""
    run: int
    """How long a run of the secret's characters must be to count as a leak."""

    def __call__(self, text: str) -> str:
        """`text` without the secret in any of its forms."""
        if self.forms is None or not text:
            return text
        text = self.forms.sub(REDACTED, text)
        if self.base64 is not None:
            text = _replace_spans(text, _base64_words(text, self.base64))
        if self.grams is not None:
            text = _replace_spans(text, _runs(text, self.secret, self.grams, self.run))
        return text

    def payload(self, payload: bytes) -> bytes:
        """An upstream body with the secret scrubbed, before anything parses it (so no later
        step can cut the secret in a way its patterns miss)."""
        if self.forms is None or not payload:
            return payload
        text = payload.decode("utf-8", "replace")
        scrubbed = self(text)
        return payload if scrubbed == text else scrubbed.encode()


@lru_cache(maxsize=1024)
def secret_scrubber(secret: str) -> SecretScrubber:
    """The scrubber of `secret`, built once per secret (a channel's key) and cached."""
    if len(secret) < MIN_SECRET_CHARS:
        return SecretScrubber(secret, None, None, None, 0)
    run = max(MIN_RUN_CHARS, (len(secret) + 1) // 2)
    grams = {secret[i : i + MIN_RUN_CHARS] for i in range(len(secret) - MIN_RUN_CHARS + 1)}
    return SecretScrubber(
        secret=secret,
        forms=_forms(secret),
        base64=_alternation(_base64_cores(secret)),
        grams=_alternation(grams) if run < len(secret) else None,
        run=run,
    )


def scrub(text: str, secret: str) -> str:
    """`text` without `secret` in any of the forms this module knows."""
    return secret_scrubber(secret)(text)


def _alternation(literals: set[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the literals, the longest first."""
    ordered = sorted(literals, key=len, reverse=True)
    return re.compile(_either(ordered)) if ordered else None


def _forms(secret: str) -> re.Pattern[str]:
    """The masked forms first (they may begin with a plain form), then the text encodings."""
    head, rest = secret[:MIN_PREFIX_CHARS], secret[MIN_PREFIX_CHARS:-1]
    longer = _either([rest[:n] for n in range(len(rest), 0, -1)])
    ends = [secret[-n:] for n in range(len(secret) - 1, 0, -1)]
    long_ends = _either([end for end in ends if len(end) >= MIN_SUFFIX_CHARS])
    masked = [f"{re.escape(head)}(?:{longer})?{_MASK}(?:{_either(ends)})?"]
    if long_ends:
        masked.append(f"{_MASK}(?:{long_ends})")
    text = sorted(_text_forms(secret), key=len, reverse=True)
    return re.compile("|".join([*masked, *map(_percent_either_case, text)]))


def _text_forms(secret: str) -> set[str]:
    quoted = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    slashed = {form.replace("/", "\\/") for form in escaped}
    # A JSON body quoted as a string inside another (an error wrapping a backend's error).
    nested = {json.dumps(form)[1:-1] for form in escaped | slashed}
    return {secret, *quoted, *escaped, *slashed, *nested}


def _percent_either_case(form: str) -> str:
    """A literal's pattern whose `%xx` escapes match in upper or lower case."""
    pieces = []
    position = 0
    for match in _PERCENT.finditer(form):
        pieces.append(re.escape(form[position : match.start()]))
        pieces.append("%" + "".join(f"[{c}{c.lower()}]" for c in match.group()[1:]))
        position = match.end()
    pieces.append(re.escape(form[position:]))
    return "".join(pieces)


def _either(literals: list[str]) -> str:
    return "|".join(map(re.escape, literals))


def _base64_cores(secret: str) -> set[str]:
    """For each alignment of the secret inside a longer text, the base64 characters that encode
    only the secret's bytes: present in the base64 of any text around the secret."""
    data = secret.encode()
    cores: set[str] = set()
    for skip in range(3):
        whole = data[skip : skip + (len(data) - skip) // 3 * 3]
        if len(whole) >= 6:
            cores.add(base64.b64encode(whole).decode())
            cores.add(base64.urlsafe_b64encode(whole).decode())
    return cores


def _base64_words(text: str, cores: re.Pattern[str]) -> list[tuple[int, int]]:
    """The base64 words (padding included) around each match of a core."""
    spans = []
    for match in cores.finditer(text):
        start, end = match.span()
        while start > 0 and text[start - 1] in _BASE64_CHARS:
            start -= 1
        while end < len(text) and text[end] in _BASE64_CHARS:
            end += 1
        while end < len(text) and text[end] == "=":
            end += 1
        spans.append((start, end))
    return spans


def _runs(text: str, secret: str, grams: re.Pattern[str], run: int) -> list[tuple[int, int]]:
    """Spans of `text` that repeat at least `run` consecutive characters of `secret`."""
    spans = []
    position = 0
    while (match := grams.search(text, position)) is not None:
        start = match.start()
        longest = max(
            _common_length(text, start, secret, offset)
            for offset in _offsets(secret, match.group())
        )
        if longest >= run:
            spans.append((start, start + longest))
            position = start + longest
        else:
            position = start + 1
    return spans


def _offsets(secret: str, piece: str) -> list[int]:
    offsets, found = [], secret.find(piece)
    while found >= 0:
        offsets.append(found)
        found = secret.find(piece, found + 1)
    return offsets


def _common_length(text: str, start: int, secret: str, offset: int) -> int:
    length = 0
    limit = min(len(text) - start, len(secret) - offset)
    while length < limit and text[start + length] == secret[offset + length]:
        length += 1
    return length


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span (in order, maybe overlapping) replaced by one marker."""
    if not spans:
        return text
    pieces, position = [], 0
    for start, end in spans:
        if end <= position:
            continue
        pieces.append(text[position : max(start, position)])
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
