from hypothesis import given
from hypothesis import strategies as st

from riskcontrol.crypto import normalise_code
from vouchers.codes import format_code, generate_codes, is_normalised_generated_code

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@given(count=st.integers(min_value=1, max_value=500))
def test_codes_are_16_crockford_characters(count):
    codes = generate_codes(count)

    assert len(codes) == count
    assert all(len(code) == 16 and set(code) <= CROCKFORD for code in codes)
    assert all(is_normalised_generated_code(code) for code in codes)


def test_codes_do_not_repeat_in_a_large_draw():
    codes = generate_codes(200_000)

    assert len(set(codes)) == 200_000


def test_codes_use_the_whole_alphabet_evenly():
    counts = dict.fromkeys(CROCKFORD, 0)
    for code in generate_codes(20_000):
        for char in code:
            counts[char] += 1
    expected = 20_000 * 16 / 32

    assert all(abs(n - expected) / expected < 0.1 for n in counts.values())


def test_printed_in_groups_of_four_and_read_back_exactly():
    code = generate_codes(1)[0]
    printed = format_code(code, "crockford")

    assert [len(group) for group in printed.split("-")] == [4, 4, 4, 4]
    assert normalise_code(printed.lower(), "crockford") == code


def test_exact_codes_are_shown_as_they_are():
    assert format_code("abc-123", "exact") == "abc-123"
