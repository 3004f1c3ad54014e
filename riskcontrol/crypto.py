"""The secrets codec every app uses: AES-256-GCM at rest, HMAC blind indexes for lookup.

Key ring from `VOUCHER_KEYS` ("kid:<base64url 32 bytes>,kid:<...>", newest first): new
values are sealed with the newest key; any key in the ring still opens what it sealed,
so rotation is "prepend a key, re-encrypt, then drop the old one".

A sealed value is self-describing, so it can be opened without a side column:

    version (1 byte) | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | ciphertext+tag

The header is part of the associated data, and callers add their own (which row, which
field), so a ciphertext copied to another row or field fails to open.

Blind index: HMAC-SHA256 under `VOUCHER_INDEX_KEY` over "<purpose>\\0<normalised value>".
Equal values give equal indexes (lookups, unique constraints) without decrypting anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionError(Exception):
    """A sealed value could not be opened: tampered, truncated, bound to other
    associated data, or sealed under a key that is no longer in the ring. The message
    never contains key material or plaintext."""


def _decode_key(encoded: str, *, name: str) -> bytes:
    padded = encoded.strip() + "=" * (-len(encoded.strip()) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ImproperlyConfigured(f"{name} is not valid base64url.") from None
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(f"{name} must decode to {KEY_BYTES} bytes, not {len(raw)}.")
    return raw


def generate_key() -> str:
    """A fresh base64url key (no padding), as `VOUCHER_KEYS`/`VOUCHER_INDEX_KEY` expect."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Codec:
    keys: tuple[tuple[str, bytes], ...]  # newest first
    index_key: bytes
    _aeads: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)
    _index_bases: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_strings(cls, keys_spec: str, index_spec: str) -> Codec:
        if not keys_spec.strip():
            raise ImproperlyConfigured(
                "VOUCHER_KEYS is not set. `make run` writes development keys to .env; "
                "in production set VOUCHER_KEYS='kid:<base64url 32 bytes>,...'."
            )
        if not index_spec.strip():
            raise ImproperlyConfigured("VOUCHER_INDEX_KEY is not set (base64url, 32 bytes).")
        keys: list[tuple[str, bytes]] = []
        for entry in keys_spec.split(","):
            kid, sep, encoded = entry.strip().partition(":")
            if not sep or not _KID_RE.match(kid):
                raise ImproperlyConfigured(
                    "VOUCHER_KEYS entries look like 'kid:<base64url key>', kid of "
                    "letters, digits, '-' or '_' (at most 32)."
                )
            if any(kid == known for known, _ in keys):
                raise ImproperlyConfigured(f"VOUCHER_KEYS names key id {kid!r} twice.")
            keys.append((kid, _decode_key(encoded, name=f"VOUCHER_KEYS[{kid}]")))
        index_key = _decode_key(index_spec, name="VOUCHER_INDEX_KEY")
        if any(hmac.compare_digest(index_key, key) for _, key in keys):
            raise ImproperlyConfigured("VOUCHER_INDEX_KEY must differ from every VOUCHER_KEYS key.")
        return cls(keys=tuple(keys), index_key=index_key)

    @property
    def current_key_id(self) -> str:
        return self.keys[0][0]

    def _aead(self, kid: str) -> AESGCM | None:
        aead = self._aeads.get(kid)
        if aead is None:
            for known, key in self.keys:
                if known == kid:
                    aead = self._aeads[kid] = AESGCM(key)
        return aead

    def encrypt(self, plaintext: str, *, aad: bytes) -> bytes:
        return self.encrypt_bytes(plaintext.encode("utf-8"), aad=aad)

    def decrypt(self, token: bytes, *, aad: bytes) -> str:
        return self.decrypt_bytes(token, aad=aad).decode("utf-8")

    def encrypt_bytes(self, data: bytes, *, aad: bytes) -> bytes:
        kid = self.keys[0][0]
        header = bytes([FORMAT_VERSION, len(kid)]) + kid.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aead(kid).encrypt(nonce, data, header + aad)

    def decrypt_bytes(self, token: bytes, *, aad: bytes) -> bytes:
        token = bytes(token)
        kid = key_id_of(token)
        aead = self._aead(kid)
        if aead is None:
            raise DecryptionError(f"Sealed under key id {kid!r}, which is not in VOUCHER_KEYS.")
        header_len = 2 + len(kid)
        header = token[:header_len]
        nonce = token[header_len : header_len + NONCE_BYTES]
        body = token[header_len + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, header + aad)
        except InvalidTag:
            raise DecryptionError(
                "Sealed value failed authentication (tampered, or bound to other data)."
            ) from None

    def needs_rotation(self, token: bytes) -> bool:
        return key_id_of(token) != self.current_key_id

    def blind_index(self, normalised: str, *, purpose: str) -> bytes:
        # HMAC state keyed and fed the purpose once, copied per value: the same digest
        # as hmac.new(key, purpose + b"\0" + value), without redoing the key schedule.
        base = self._index_bases.get(purpose)
        if base is None:
            base = hmac.new(self.index_key, purpose.encode("ascii") + b"\0", hashlib.sha256)
            self._index_bases[purpose] = base
        mac = base.copy()
        mac.update(normalised.encode("utf-8"))
        return mac.digest()


def key_id_of(token: bytes) -> str:
    token = bytes(token)
    if len(token) < 2 or token[0] != FORMAT_VERSION:
        raise DecryptionError("Not a sealed value of a known format.")
    kid_len = token[1]
    if len(token) < 2 + kid_len + NONCE_BYTES + 16:
        raise DecryptionError("Sealed value is truncated.")
    try:
        return token[2 : 2 + kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("Not a sealed value of a known format.") from None


@lru_cache(maxsize=8)
def _codec_for(keys_spec: str, index_spec: str) -> Codec:
    return Codec.from_strings(keys_spec, index_spec)


def codec() -> Codec:
    """The codec for the current settings (cached per key configuration)."""
    return _codec_for(settings.VOUCHER_KEYS, settings.VOUCHER_INDEX_KEY)


# --- Code normalisation ------------------------------------------------------------------
# `crockford`: codes we generate. Fold case, drop separators, read O as 0 and I/L as 1,
# so a code read aloud or typed from a printed card still matches.
# `exact`: third-party secrets; only surrounding white space is ours to remove.
CODE_FORMAT_CROCKFORD = "crockford"
CODE_FORMAT_EXACT = "exact"
_CROCKFORD_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS_RE = re.compile(r"[\s\-]+")


def normalise_code(raw: str, code_format: str) -> str:
    if code_format == CODE_FORMAT_CROCKFORD:
        return _SEPARATORS_RE.sub("", raw).upper().translate(_CROCKFORD_FOLD)
    if code_format == CODE_FORMAT_EXACT:
        return raw.strip()
    raise ValueError(f"Unknown code format {code_format!r}.")


def code_lookup_forms(raw: str) -> list[str]:
    """The forms a typed code may be stored under: exact first, then folded."""
    forms = [normalise_code(raw, CODE_FORMAT_EXACT)]
    folded = normalise_code(raw, CODE_FORMAT_CROCKFORD)
    if folded and folded not in forms:
        forms.append(folded)
    return [form for form in forms if form]


# --- Key rotation: apps declare what to re-encrypt ------------------------------------
# An app whose tables hold sealed values lists them in its AppConfig, e.g.
#     reencryption = (ReencryptionStep(label="order notes", model="shop.Order",
#                                      reencrypt="shop.services.orders_reencrypt",
#                                      stale="shop.selectors.orders_under_older_keys"),)
# Dotted paths, because apps.py is imported before any model can be. The command
# `rotate_voucher_keys` runs every declared step, in INSTALLED_APPS order.


@dataclass(frozen=True)
class ReencryptionStep:
    """One table whose sealed values `rotate_voucher_keys` re-seals under the newest key.

    `reencrypt` names a service `(*, chunk_size) -> Iterator[int]` (rows re-sealed per
    chunk, re-runnable); `stale` names a read `(*, key_id) -> int` (rows still sealed under
    another key)."""

    label: str
    model: str  # "app_label.Model", for the table name in the report
    reencrypt: str
    stale: str

    @property
    def table(self) -> str:
        return apps.get_model(self.model)._meta.db_table

    def run(self, *, chunk_size: int) -> Iterator[int]:
        service: Callable[..., Iterator[int]] = import_string(self.reencrypt)
        return service(chunk_size=chunk_size)

    def stale_count(self, *, key_id: str) -> int:
        return import_string(self.stale)(key_id=key_id)


def reencryption_steps() -> list[ReencryptionStep]:
    """Every step declared by an installed app (`AppConfig.reencryption`), lower apps first."""
    return [
        step for config in apps.get_app_configs() for step in getattr(config, "reencryption", ())
    ]
