"""Resident ID (GB 11643) and mobile number checks and their pydantic validators."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pytest
from pydantic import BaseModel, BeforeValidator, ValidationError

from models.identity import (
    gb11643_check_digit,
    id_birth_date,
    is_valid_id_number,
    is_valid_mobile,
    validate_id_number,
    validate_mobile,
)

TODAY = date(2026, 4, 1)

# Worked by hand with weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 and the map "10X98765432":
#   11010519491231002: 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> 'X'
#   44052419800101001: 28+36+0+25+16+16+2+9+48+0+0+9+0+5+0+0+2 = 196; 196 mod 11 = 9 -> '3'
#   33010619900307123: 21+27+0+5+0+24+2+9+54+0+0+27+0+35+8+8+6 = 226; 226 mod 11 = 6 -> '6'
#   33010820000101000: 21+27+0+5+0+32+4+0+0+0+0+9+0+5+0+0+0 = 103; 103 mod 11 = 4 -> '8'
HAND_COMPUTED = [
    ("11010519491231002", "X"),
    ("44052419800101001", "3"),
    ("33010619900307123", "6"),
    ("33010820000101000", "8"),
]


class _Person(BaseModel):
    id_number: Annotated[str, BeforeValidator(validate_id_number)]
    phone: Annotated[str, BeforeValidator(validate_mobile)]


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


@pytest.mark.parametrize(("first17", "check"), HAND_COMPUTED)
def test_check_digit_matches_hand_computation_when_given_known_ids(first17: str, check: str) -> None:
    assert gb11643_check_digit(first17) == check


@pytest.mark.parametrize(
    "bad",
    ["1101051949123100", "110105194912310021", "1101051949123100a", "１１０１０５１９４９１２３１００２"],
)
def test_check_digit_raises_when_input_is_not_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        gb11643_check_digit(bad)


@pytest.mark.parametrize(("first17", "check"), HAND_COMPUTED)
def test_is_valid_id_number_accepts_when_check_digit_matches(first17: str, check: str) -> None:
    assert is_valid_id_number(first17 + check, today=TODAY)


@pytest.mark.parametrize(("first17", "check"), HAND_COMPUTED)
def test_is_valid_id_number_refuses_when_check_digit_is_wrong(first17: str, check: str) -> None:
    for other in "0123456789X":
        if other != check:
            assert not is_valid_id_number(first17 + other, today=TODAY)


@pytest.mark.parametrize(
    "bad",
    [
        "33010619900307123",  # 17 characters
        "3301061990030712366",  # 19 characters
        "11010519491231002x",  # lower-case check character is not the wire form
        "3301061990030712A6",
        "",
    ],
)
def test_is_valid_id_number_refuses_when_shape_is_wrong(bad: str) -> None:
    assert not is_valid_id_number(bad, today=TODAY)


@pytest.mark.parametrize(
    "first17",
    [
        "33010619900230123",  # 30 February
        "33010619901301123",  # month 13
        "33010618991231123",  # born before 1900
        "33010620260402123",  # born after `today`
        "99010619900307123",  # no province 99
        "00010619900307123",
    ],
)
def test_is_valid_id_number_refuses_when_region_or_birth_date_is_implausible(first17: str) -> None:
    assert not is_valid_id_number(_with_check(first17), today=TODAY)


def test_id_birth_date_returns_date_when_digits_form_a_calendar_date() -> None:
    assert id_birth_date("330106199003071236") == date(1990, 3, 7)
    assert id_birth_date(_with_check("33010619900230123")) is None


@pytest.mark.parametrize("good", ["13812345678", "19912345678", "15000000000", "17612345678"])
def test_is_valid_mobile_accepts_when_mainland_11_digits(good: str) -> None:
    assert is_valid_mobile(good)


@pytest.mark.parametrize(
    "bad",
    [
        "12812345678",
        "10812345678",
        "23812345678",
        "1381234567",
        "138123456789",
        "1381234567a",
        "138 1234 5678",
        "",
    ],
)
def test_is_valid_mobile_refuses_when_not_mainland_11_digits(bad: str) -> None:
    assert not is_valid_mobile(bad)


def test_validators_normalise_when_input_has_everyday_spellings() -> None:
    person = _Person(id_number=" 110105 19491231 002x ", phone="+86 138-1234-5678")
    assert person.id_number == "11010519491231002X"
    assert person.phone == "13812345678"
    assert _Person(id_number="11010519491231002X", phone="8613812345678").phone == "13812345678"


@pytest.mark.parametrize(
    ("id_number", "fragment"),
    [
        ("110105194912310021", "check digit"),
        ("1101051949123100", "17 digits followed by a digit or X"),
        (_with_check("33010619900230123"), "birth date"),
        (11010519491231002, "string"),
    ],
)
def test_validate_id_number_raises_coded_error_when_id_is_invalid(id_number: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _Person.model_validate({"id_number": id_number, "phone": "13812345678"})
    (err,) = exc.value.errors()
    assert err["type"] == "fv.id_number_invalid"
    assert err["loc"] == ("id_number",)
    assert fragment in err["msg"]


@pytest.mark.parametrize("phone", ["12812345678", "1381234567", "+1 415 555 0100", 13812345678])
def test_validate_mobile_raises_coded_error_when_phone_is_invalid(phone: object) -> None:
    with pytest.raises(ValidationError) as exc:
        _Person.model_validate({"id_number": "11010519491231002X", "phone": phone})
    (err,) = exc.value.errors()
    assert err["type"] == "fv.phone_invalid"
    assert err["loc"] == ("phone",)
    assert "11 digits" in err["msg"]
