"""The fake upstream's "encrypted" content (reasoning and compaction items): made by it alone,
and bound to the API key it was made for, as OpenAI binds it to the organization.

A sealed text is ``base64url(json) + "." + tag``: the JSON holds the kind, a fingerprint of the
key (never the key) and the text; the tag is an HMAC under a secret of this process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from bench.fake_upstream.openai_dialect import dumps

_SECRET = os.urandom(32)
_TAG_BYTES = 16


class SealError(ValueError):
    """Sealed content that this process did not make, or made for another key or kind."""


def key_fingerprint(key: str) -> str:
    """A short, one-way fingerprint of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _tag(payload: str) -> str:
    digest = hmac.new(_SECRET, payload.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal(kind: str, key: str, text: str) -> str:
    """Seal ``text`` as content of ``kind`` for the API key ``key``."""
    document = {"kind": kind, "key": key_fingerprint(key), "text": text}
    payload = base64.urlsafe_b64encode(dumps(document).encode()).decode().rstrip("=")
    return f"{payload}.{_tag(payload)}"


def unseal(kind: str, key: str, sealed: object) -> str:
    """The text sealed as ``kind`` for ``key``; SealError when it is not that."""
    if not isinstance(sealed, str) or sealed.count(".") != 1:
        raise SealError("malformed")
    payload, tag = sealed.split(".")
    if not hmac.compare_digest(tag, _tag(payload)):
        raise SealError("tampered with or not made here")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if document.get("kind") != kind:
        raise SealError(f"made for a {document.get('kind')} item")
    if not hmac.compare_digest(str(document.get("key")), key_fingerprint(key)):
        raise SealError("made for another API key")
    return str(document.get("text", ""))
