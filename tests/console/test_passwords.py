"""Password hashing: scrypt with a per-hash salt, its parameters in the stored form."""

from __future__ import annotations

import base64

import pytest

from bot.console import passwords
from bot.console.passwords import hash_password, needs_rehash, verify_password


def test_default_parameters_are_owasps_scrypt_and_verify() -> None:
    stored = hash_password("一句好记的密码 2025")
    algorithm, log2_n, r, p, salt, key = stored.split("$")
    assert (algorithm, int(log2_n), int(r), int(p)) == ("scrypt", 17, 8, 1)
    assert len(base64.urlsafe_b64decode(salt + "==")) == 16
    assert len(base64.urlsafe_b64decode(key + "=")) == 32
    assert verify_password("一句好记的密码 2025", stored)
    assert not verify_password("一句好记的密码 2024", stored)
    assert not needs_rehash(stored)


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_password("same password!", 10), hash_password("same password!", 10)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert verify_password("same password!", first)
    assert verify_password("same password!", second)


def test_a_cheaper_hash_still_verifies_and_asks_to_be_upgraded() -> None:
    stored = hash_password("cheap password", 10)
    assert stored.startswith("scrypt$10$8$1$")
    assert verify_password("cheap password", stored)
    assert needs_rehash(stored)
    assert not needs_rehash(stored, log2_n=10)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "scrypt",
        "scrypt$10$8$1$",
        "bcrypt$10$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "scrypt$40$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "plain text password",
    ],
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert not verify_password("plain text password", stored)
    assert needs_rehash(stored)


def test_a_tampered_key_does_not_match() -> None:
    stored = hash_password("tamper with me", 10)
    head, key = stored.rsplit("$", 1)
    flipped = ("B" if key[0] == "A" else "A") + key[1:]
    assert not verify_password("tamper with me", f"{head}${flipped}")


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = passwords.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    assert verify_password("constant time", hash_password("constant time", 10))
    assert len(compared) == 1


def test_out_of_range_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="log2_n"):
        hash_password("whatever password", 30)


def test_the_dummy_hash_matches_nothing_guessable() -> None:
    dummy = passwords.dummy_hash(10)
    assert not verify_password("", dummy)
    assert not verify_password("password", dummy)
