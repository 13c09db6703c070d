"""Encryption at rest for channel secrets: Fernet, first configured key encrypts, all decrypt."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

HINT_VISIBLE_CHARS = 4


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.SWITCHYARD_ENCRYPTION_KEYS))


def encrypt_secret(plaintext: str) -> str:
    """Return the ciphertext of `plaintext` under the first configured key."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    """Return the plaintext of a stored secret; raise SecretDecryptionError if no key opens it."""
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("the stored secret cannot be decrypted with any key") from None


def reencrypt_secret(ciphertext: str) -> str:
    """Return the same secret re-encrypted under the first configured key (key rotation)."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("the stored secret cannot be decrypted with any key") from None


def secret_hint(plaintext: str) -> str:
    """Return a masked hint of a secret that reveals at most its last few characters."""
    if len(plaintext) <= HINT_VISIBLE_CHARS * 3:
        return "••••"
    return f"••••{plaintext[-HINT_VISIBLE_CHARS:]}"
