"""Licence numbers: format, entry leniency, typos caught at once, forgeries refused."""

import pytest

from integration.licensing.numbers import (
    ALPHABET,
    InvalidNumber,
    Kind,
    LicenceData,
    Module,
    Plan,
    decode,
    encode,
    normalize,
)

SECRET = b"platform-secret"
DATA = LicenceData(
    plan=Plan.BIURO_PRO,
    modules=Plan.BIURO_PRO.modules,
    seats=40,
    serial=987654321,
    kind=Kind.APPLICATION,
)


def test_number_is_29_digits_and_capitals_printed_in_groups_of_five() -> None:
    number = encode(DATA, SECRET)
    groups = number.split("-")
    assert [len(g) for g in groups] == [5, 5, 5, 5, 5, 4]
    assert len("".join(groups)) == 29
    assert all(c in ALPHABET for c in "".join(groups))


def test_number_round_trips_what_it_encodes() -> None:
    assert decode(encode(DATA, SECRET), SECRET) == DATA


def test_entry_ignores_dashes_spaces_and_case() -> None:
    number = encode(DATA, SECRET)
    typed = " " + number.lower().replace("-", " ") + " "
    assert decode(typed, SECRET) == DATA
    assert decode(number.replace("-", ""), SECRET) == DATA


def test_every_single_typo_and_neighbour_swap_is_caught_as_a_typo() -> None:
    clean = normalize(encode(DATA, SECRET))
    variants = [
        clean[:i] + c + clean[i + 1 :] for i in range(29) for c in ALPHABET if c != clean[i]
    ]
    variants += [
        clean[:i] + clean[i + 1] + clean[i] + clean[i + 2 :]
        for i in range(28)
        if clean[i] != clean[i + 1]
    ]
    assert len(variants) > 29 * 30
    for variant in variants:
        with pytest.raises(InvalidNumber, match="typo"):
            decode(variant, SECRET)


def test_number_with_a_recomputed_checksum_but_more_seats_is_refused() -> None:
    forged = encode(
        LicenceData(
            plan=DATA.plan, modules=DATA.modules, seats=4000, serial=DATA.serial, kind=DATA.kind
        ),
        b"someone-else",
    )
    with pytest.raises(InvalidNumber, match="not issued by Delegat"):
        decode(forged, SECRET)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ABCDE-FGHJK", "29 letters and digits"),
        ("ABCDE-FGHJK-MNPQR-STVWX-YZ012-345", "29 letters and digits; this one has 28"),
        ("ABCDE-FGHJK-MNPQR-STVWX-YZ012-34U6", "cannot contain U"),
    ],
)
def test_malformed_numbers_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidNumber, match=message):
        normalize(text)


def test_module_names_round_trip() -> None:
    modules = Module.parse(["ksef_sending", "api_access"])
    assert modules.names() == ["ksef_sending", "api_access"]
    with pytest.raises(ValueError, match="unknown module"):
        Module.parse(["teleportation"])
