"""API key material (pure): generate a secret, derive its public prefix and its stored hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "sk-sy-"
RANDOM_BYTES = 32
PREFIX_LENGTH = len(KEY_SCHEME) + 8


@dataclass(frozen=True)
class KeyMaterial:
    """A freshly generated key: the secret (shown once), its prefix and its hash."""

    secret: str
    prefix: str
    key_hash: str


def hash_key(secret: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_prefix(secret: str) -> str:
    """The public part of a key, safe to show and log."""
    return secret[:PREFIX_LENGTH]


def key_matches(secret: str, key_hash: str) -> bool:
    """Whether `secret` hashes to `key_hash`, compared in constant time."""
    return hmac.compare_digest(hash_key(secret), key_hash)


def generate_key() -> KeyMaterial:
    """A new random key with 32 bytes of entropy."""
    secret = KEY_SCHEME + secrets.token_urlsafe(RANDOM_BYTES)
    return KeyMaterial(secret=secret, prefix=key_prefix(secret), key_hash=hash_key(secret))
