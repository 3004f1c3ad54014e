import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from riskcontrol.crypto import (
    Codec,
    DecryptionError,
    code_lookup_forms,
    generate_key,
    key_id_of,
    normalise_code,
)

KEY_A, KEY_B, INDEX_KEY = generate_key(), generate_key(), generate_key()
RING_A = Codec.from_strings(f"a:{KEY_A}", INDEX_KEY)
RING_BA = Codec.from_strings(f"b:{KEY_B},a:{KEY_A}", INDEX_KEY)
RING_B = Codec.from_strings(f"b:{KEY_B}", INDEX_KEY)

texts = st.text(max_size=300)
aads = st.binary(max_size=64)


@given(plaintext=texts, aad=aads)
def test_round_trip(plaintext, aad):
    assert RING_A.decrypt(RING_A.encrypt(plaintext, aad=aad), aad=aad) == plaintext


@given(plaintext=texts, aad=aads, data=st.data())
def test_any_flipped_bit_is_rejected(plaintext, aad, data):
    sealed = bytearray(RING_A.encrypt(plaintext, aad=aad))
    position = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    sealed[position] ^= 1 << bit

    with pytest.raises(DecryptionError):
        RING_A.decrypt(bytes(sealed), aad=aad)


@given(plaintext=texts, aad=aads, other=aads)
def test_other_associated_data_is_rejected(plaintext, aad, other):
    if aad == other:
        other = aad + b"x"
    sealed = RING_A.encrypt(plaintext, aad=aad)

    with pytest.raises(DecryptionError):
        RING_A.decrypt(sealed, aad=other)


@given(plaintext=texts, aad=aads)
def test_old_key_still_decrypts_after_a_new_key_is_added(plaintext, aad):
    sealed_under_a = RING_A.encrypt(plaintext, aad=aad)

    assert RING_BA.decrypt(sealed_under_a, aad=aad) == plaintext
    assert key_id_of(RING_BA.encrypt(plaintext, aad=aad)) == "b"
    assert RING_BA.needs_rotation(sealed_under_a)


def test_value_sealed_under_a_removed_key_fails_clearly():
    sealed = RING_A.encrypt("secret", aad=b"row")

    with pytest.raises(DecryptionError, match="key id 'a'") as raised:
        RING_B.decrypt(sealed, aad=b"row")
    assert "secret" not in str(raised.value)


def test_truncated_value_fails_clearly():
    with pytest.raises(DecryptionError):
        RING_A.decrypt(RING_A.encrypt("secret", aad=b"")[:20], aad=b"")


def test_each_encryption_uses_a_fresh_nonce():
    assert RING_A.encrypt("same", aad=b"") != RING_A.encrypt("same", aad=b"")


@given(value=texts)
def test_blind_index_is_deterministic_and_purpose_bound(value):
    assert RING_A.blind_index(value, purpose="code") == RING_B.blind_index(value, purpose="code")
    assert RING_A.blind_index(value, purpose="code") != RING_A.blind_index(value, purpose="phone")
    assert len(RING_A.blind_index(value, purpose="code")) == 32


@pytest.mark.parametrize(
    ("keys", "index", "message"),
    [
        ("", INDEX_KEY, "VOUCHER_KEYS is not set"),
        (f"a:{KEY_A}", "", "VOUCHER_INDEX_KEY is not set"),
        ("a:not-base64!!", INDEX_KEY, "not valid base64url"),
        ("a:c2hvcnQ", INDEX_KEY, "must decode to 32 bytes"),
        (KEY_A, INDEX_KEY, "kid:<base64url key>"),
        (f"a:{KEY_A},a:{KEY_B}", INDEX_KEY, "twice"),
        (f"a:{KEY_A}", KEY_A, "must differ"),
    ],
)
def test_bad_key_configuration_is_refused_without_echoing_keys(keys, index, message):
    with pytest.raises(ImproperlyConfigured, match=message) as raised:
        Codec.from_strings(keys, index)
    assert KEY_A not in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "code_format", "expected"),
    [
        ("abcd-efgh ijkm-nopq", "crockford", "ABCDEFGH1JKMN0PQ"),
        ("  o0 iI lL  ", "crockford", "001111"),
        ("  Ab-c d\t", "exact", "Ab-c d"),
        ("\ufeffX1", "exact", "\ufeffX1"),
    ],
)
def test_code_normalisation(raw, code_format, expected):
    assert normalise_code(raw, code_format) == expected


def test_lookup_tries_the_exact_form_before_the_folded_one():
    assert code_lookup_forms(" abcd-efgh ") == ["abcd-efgh", "ABCDEFGH"]
    assert code_lookup_forms("ABCD") == ["ABCD"]
