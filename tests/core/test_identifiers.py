import pytest

from integration.core.identifiers import InvalidIdentifier, normalize_nip, normalize_pesel


@pytest.mark.parametrize("value", ["5260250274", "526-025-02-74", "526 025 02 74", "1234563218"])
def test_valid_nip_is_normalized_to_ten_digits(value: str) -> None:
    assert normalize_nip(value) == value.replace("-", "").replace(" ", "")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5260250275", "check digit"),  # last digit off by one
        ("5260205274", "check digit"),  # two digits swapped
        ("526025027", "10 digits"),
        ("52602502744", "10 digits"),
        ("52602502a4", "10 digits"),
        ("", "10 digits"),
        ("1230000040", "check digit"),  # weighted sum mod 11 == 10: no NIP has it
        ("1000010039", "00"),  # valid checksum, but KSeF's format excludes it
        ("0123456789", "starts with 0"),
    ],
)
def test_invalid_nip_is_rejected_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        normalize_nip(value)


@pytest.mark.parametrize("value", ["85021501233", "02230501016", "44051401359"])
def test_valid_pesel_is_accepted(value: str) -> None:
    assert normalize_pesel(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("85021501234", "check digit"),
        ("8502150123", "11 digits"),
        ("850215O1233", "11 digits"),
        ("85023101233", "date of birth"),  # 31 February, valid checksum
    ],
)
def test_invalid_pesel_is_rejected_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        normalize_pesel(value)
