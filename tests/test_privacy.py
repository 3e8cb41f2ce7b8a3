"""D-6 masking of personal data in lists and the R-1 visit-hours window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.privacy import (
    local_time,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
    within_visit_hours,
)


@pytest.mark.parametrize(
    "name,masked",
    [("张三明", "张*明"), ("张三", "张*"), ("张", "张"), ("欧阳小明", "欧**明"), ("", "")],
)
def test_mask_name_keeps_first_and_last_when_long_enough(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_phone_shows_3_and_4_when_mainland_mobile() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    for written in ("+86 138 1234 5678", "+86-13812345678", "008613812345678", "8613812345678"):
        assert mask_phone(written) == "138****5678", written


def test_mask_id_number_shows_first_6_last_4_when_18_chars() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_mask_bank_card_shows_first_6_last_4_when_16_or_19_digits() -> None:
    assert mask_bank_card("6222021234567890") == "622202******7890"
    assert mask_bank_card("6222 0212 3456 7890 123") == "622202*********0123"


def test_masks_hide_everything_when_value_too_short() -> None:
    assert mask_phone("12345") == "*****"
    assert mask_id_number("1234567890") == "**********"


def test_visit_hours_open_at_8_local_when_utc_midnight() -> None:
    assert within_visit_hours(datetime(2027, 3, 1, 0, 0, tzinfo=UTC))  # 08:00 Shanghai


def test_visit_hours_closed_just_before_8_and_at_22_local() -> None:
    assert not within_visit_hours(datetime(2027, 3, 1, 7, 59, 59, tzinfo=timezone(timedelta(hours=8))))
    assert not within_visit_hours(datetime(2027, 3, 1, 14, 0, tzinfo=UTC))  # 22:00 Shanghai
    assert within_visit_hours(datetime(2027, 3, 1, 21, 59, 59, tzinfo=timezone(timedelta(hours=8))))


def test_visit_hours_use_given_zone_when_not_shanghai() -> None:
    ts = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 Shanghai, 07:30 Urumqi
    assert within_visit_hours(ts)
    assert not within_visit_hours(ts, "Asia/Urumqi")


def test_local_time_converts_when_offset_given() -> None:
    assert local_time(datetime(2027, 3, 1, 0, 0, tzinfo=UTC)).hour == 8


def test_visit_hours_refuse_when_timestamp_naive() -> None:
    with pytest.raises(ValueError):
        within_visit_hours(datetime(2027, 3, 1, 12, 0))
