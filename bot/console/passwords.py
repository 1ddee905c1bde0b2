"""Password hashing for staff accounts: scrypt from the standard library.

Parameters: N = 2**17, r = 8, p = 1 (128 MiB, about 0.4 s on the dev VM), the first
choice of the OWASP Password Storage Cheat Sheet when Argon2id is not available; a fresh
16-byte salt per hash from `secrets`. The stored form carries its own parameters,

    scrypt$17$8$1$<salt, urlsafe base64>$<32-byte key, urlsafe base64>

so a hash made with other parameters (the cheaper ones tests use, or stronger ones
later) still verifies, and `needs_rehash` says when to upgrade it at the next login.
Keys are compared with `hmac.compare_digest` (constant time). Nothing here logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALGORITHM = "scrypt"
LOG2_N = 17  # N = 131072
BLOCK_SIZE = 8  # r
PARALLELISM = 1  # p
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 512 * 1024 * 1024  # OpenSSL's default ceiling (32 MiB) is below 128 MiB
MIN_LOG2_N = 10  # what `verify` accepts from a stored hash (tests use 14)
MAX_LOG2_N = 20


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=1 << log2_n,
        r=r,
        p=p,
        maxmem=MAX_MEMORY,
        dklen=KEY_BYTES,
    )


def hash_password(password: str, log2_n: int = LOG2_N) -> str:
    """A new salted hash of `password` in the stored form above."""
    if not MIN_LOG2_N <= log2_n <= MAX_LOG2_N:
        raise ValueError(f"log2_n must be {MIN_LOG2_N}..{MAX_LOG2_N}")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, log2_n, BLOCK_SIZE, PARALLELISM)
    return f"{ALGORITHM}${log2_n}${BLOCK_SIZE}${PARALLELISM}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != ALGORITHM:
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not (MIN_LOG2_N <= log2_n <= MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16):
        return None
    if len(salt) < SALT_BYTES or len(key) != KEY_BYTES:
        return None
    return log2_n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash; a malformed hash never matches."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    log2_n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, log2_n, r, p), key)


def needs_rehash(stored: str, log2_n: int = LOG2_N) -> bool:
    """True when the stored hash is weaker than the current parameters."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] < log2_n or parsed[1] < BLOCK_SIZE


def dummy_hash(log2_n: int = LOG2_N) -> str:
    """A hash no password matches, verified for unknown names so that a login for a
    name that does not exist takes as long as one for a name that does."""
    return hash_password(secrets.token_urlsafe(24), log2_n)
