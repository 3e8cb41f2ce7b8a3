"""Seeded synthetic demo data for Hangzhou: import records (protocol "Visits and dispatch") and demo users.

Record i depends only on (seed, team, i), so any slice of a large data set can be regenerated alone.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from bisect import bisect
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from models.identity import gb11643_check_digit

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_AS_OF",
    "DEMO_PASSWORD",
    "DISTRICTS",
    "DISTRICT_AREA_CODES",
    "TEAM_DISTRICTS",
    "demo_users",
    "generate_import_records",
    "to_csv_rows",
]

DEFAULT_AS_OF = date(2026, 4, 1)
DEMO_PASSWORD = "demo1234"

# GB/T 2260 county-level codes of Hangzhou's urban districts (临平 and 钱塘 since 2021).
DISTRICT_AREA_CODES: dict[str, str] = {
    "上城区": "330102",
    "拱墅区": "330105",
    "西湖区": "330106",
    "滨江区": "330108",
    "萧山区": "330109",
    "余杭区": "330110",
    "临平区": "330113",
    "钱塘区": "330114",
}
DISTRICTS: tuple[str, ...] = tuple(DISTRICT_AREA_CODES)

# hz-a works the western and central districts, hz-b those east and south of the Qiantang.
TEAM_DISTRICTS: dict[str, tuple[str, ...]] = {
    "hz-a": ("上城区", "拱墅区", "西湖区", "余杭区"),
    "hz-b": ("滨江区", "萧山区", "临平区", "钱塘区"),
}

# Relative caseload by district, roughly following resident population.
_DISTRICT_WEIGHT = {
    "上城区": 10,
    "拱墅区": 11,
    "西湖区": 10,
    "滨江区": 7,
    "萧山区": 13,
    "余杭区": 10,
    "临平区": 8,
    "钱塘区": 7,
}


class _Estate(NamedTuple):
    name: str
    road: str
    number: int  # street number of the estate's gate
    lat_u: int  # micro-degrees
    lon_u: int
    high_rise: bool


def _e(name: str, road: str, number: int, lat: str, lon: str, high_rise: bool) -> _Estate:
    return _Estate(
        name, road, number, int(Decimal(lat) * 1_000_000), int(Decimal(lon) * 1_000_000), high_rise
    )


_ESTATES: dict[str, tuple[_Estate, ...]] = {
    "上城区": (
        _e("采荷一区", "采荷路", 18, "30.2625", "120.1905", False),
        _e("景芳三区", "景芳路", 66, "30.2825", "120.2010", False),
        _e("近江家园", "秋涛路", 168, "30.2450", "120.1905", True),
        _e("望江家园", "望江东路", 299, "30.2390", "120.1840", True),
        _e("复兴南苑", "复兴路", 451, "30.2235", "120.1720", False),
        _e("春江花月", "富春路", 555, "30.2460", "120.2150", True),
        _e("三里亭苑", "三里亭路", 30, "30.2780", "120.2050", False),
        _e("丁桥景园", "大农港路", 1228, "30.3350", "120.2350", True),
    ),
    "拱墅区": (
        _e("大关西苑", "大关路", 52, "30.3130", "120.1500", False),
        _e("和睦新村", "和睦路", 101, "30.3050", "120.1395", False),
        _e("德胜新村", "德胜路", 218, "30.3020", "120.1620", False),
        _e("朝晖五区", "朝晖路", 77, "30.2900", "120.1700", False),
        _e("潮鸣苑", "建国北路", 436, "30.2790", "120.1780", False),
        _e("小河佳苑", "小河路", 488, "30.3120", "120.1400", True),
        _e("康桥新城", "康桥路", 9, "30.3650", "120.1620", True),
    ),
    "西湖区": (
        _e("翠苑一区", "文三路", 358, "30.2850", "120.1330", False),
        _e("古荡新村", "文二西路", 12, "30.2810", "120.1190", False),
        _e("文鼎苑", "古墩路", 415, "30.2960", "120.1100", True),
        _e("嘉绿苑", "学院路", 96, "30.2880", "120.1410", False),
        _e("西溪诚园", "西溪路", 860, "30.2670", "120.1050", True),
        _e("蒋村花园", "文二西路", 588, "30.2870", "120.0820", False),
        _e("紫金文苑", "紫金港路", 201, "30.2980", "120.0890", True),
        _e("九莲新村", "文一路", 120, "30.2930", "120.1210", False),
    ),
    "滨江区": (
        _e("江南豪园", "江南大道", 1888, "30.2080", "120.2030", True),
        _e("阳光郡", "江南大道", 3688, "30.2100", "120.2150", True),
        _e("白金海岸", "江汉路", 1785, "30.2060", "120.1900", True),
        _e("冠山小区", "冠山路", 33, "30.1720", "120.1750", False),
        _e("钱江彩虹", "西兴路", 1999, "30.2010", "120.2220", True),
        _e("官河锦庭", "官河路", 288, "30.1950", "120.2320", True),
    ),
    "萧山区": (
        _e("金城花园", "金城路", 438, "30.1690", "120.2640", False),
        _e("湘湖人家", "湘湖路", 1500, "30.1520", "120.2250", True),
        _e("旺角城", "人民路", 258, "30.1660", "120.2700", True),
        _e("育才小区", "育才路", 45, "30.1610", "120.2610", False),
        _e("市心苑", "市心中路", 819, "30.1750", "120.2680", True),
        _e("世纪城花园", "民和路", 606, "30.2350", "120.2640", True),
        _e("瓜沥新村", "航坞路", 72, "30.1880", "120.4520", False),
    ),
    "余杭区": (
        _e("良渚文化村", "良渚路", 1, "30.3850", "120.0500", False),
        _e("西溪北苑", "五常大道", 181, "30.2800", "120.0550", True),
        _e("海创苑", "文一西路", 1218, "30.2880", "119.9950", True),
        _e("闲林山水", "闲兴路", 66, "30.2450", "119.9950", True),
        _e("凤都新村", "凤都路", 25, "30.3950", "119.9650", False),
        _e("溪语花园", "高教路", 970, "30.2780", "120.0200", True),
    ),
    "临平区": (
        _e("梅堰小区", "迎宾路", 319, "30.4200", "120.2980", False),
        _e("南苑花园", "南苑街", 102, "30.4120", "120.3000", False),
        _e("东湖苑", "东湖路", 215, "30.4230", "120.3080", True),
        _e("星桥家园", "星桥路", 88, "30.4000", "120.2300", True),
        _e("乔司新城", "乔司大道", 500, "30.3600", "120.2900", True),
        _e("水北新村", "广济路", 36, "30.4860", "120.1880", False),
    ),
    "钱塘区": (
        _e("金沙湖花园", "金沙大道", 600, "30.3100", "120.3150", True),
        _e("文泽苑", "文泽路", 288, "30.3130", "120.3420", True),
        _e("学林苑", "学林街", 99, "30.3150", "120.3550", False),
        _e("幸福南苑", "幸福南路", 1100, "30.2950", "120.3700", True),
        _e("月雅城", "海达南路", 555, "30.2970", "120.3850", True),
        _e("义蓬新村", "义蓬路", 18, "30.3000", "120.4900", False),
    ),
}

# Surnames weighted towards Zhejiang's most common ones.
_SURNAMES = (
    "陈王张李吴徐周沈金朱杨胡钱孙黄刘赵郑何方俞叶施潘蒋姚许汪冯郭马丁邵任章夏傅"
    "邱毛楼韩董程宋范应鲍江顾蔡严谢余于袁卢唐魏"
)
_SURNAME_CUM = list(accumulate(max(1, 30 - i) for i in range(len(_SURNAMES))))
_MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国志文海晨东峰毅良荣"
_FEMALE_CHARS = "芳娟敏静丽艳娜婷雪琳燕玲慧颖倩萍红霞洁琴云莉佳欣怡丹蕾璐晶梅月雯琪婧瑶"

# Prefixes issued by the three carriers; random digits after a real prefix keep numbers plausible.
_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "173 176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 198 199"
).split()

# Buckets M1..M7+ are all visit candidates (domain §6.2); mid buckets dominate the field workload.
_BUCKET_CUM = list(accumulate((10, 15, 18, 17, 14, 12, 14)))
_MAX_DPD = 420  # older cases are normally written off and sent to legal, not visited

_BIRTH_FIRST = date(1965, 1, 1).toordinal()
_BIRTH_LAST = date(2003, 12, 31).toordinal()

# (outstanding target low, high, weight) in yuan.
_CONSUMER_TIERS = ((1_100, 5_000, 40), (5_000, 15_000, 35), (15_000, 30_000, 18), (30_000, 50_000, 7))
_CASH_TIERS = ((5_500, 20_000, 35), (20_000, 50_000, 35), (50_000, 100_000, 20), (100_000, 200_000, 10))
_TIER_CUM = {
    "consumer_instalment": list(accumulate(t[2] for t in _CONSUMER_TIERS)),
    "cash_loan": list(accumulate(t[2] for t in _CASH_TIERS)),
}
_PRODUCT_LIMITS = {"consumer_instalment": (1_000, 50_000, 100), "cash_loan": (5_000, 200_000, 1_000)}
_TERMS = {"consumer_instalment": (3, 6, 6, 9, 12, 12, 24), "cash_loan": (12, 12, 24, 24, 36)}
# Monthly rates in basis points of 1/10,000: pay-later fees run lower than cash-loan interest (P-5 cap 24%).
_RATES_BP = {"consumer_instalment": (60, 75, 90, 125), "cash_loan": (100, 125, 150, 175, 199)}

_MAX_UNPAID_ROWS = 10  # with at least one earlier paid row, a history stays within 12 rows
_MAX_HISTORY_ROWS = 12
_ONE_DAY = timedelta(days=1)


def _annuity_factor(rate_bp: int, term: int) -> Decimal:
    i = Decimal(rate_bp) / 10_000
    return i / (1 - (1 + i) ** -term)


# The instalment only depends on (rate, term): each factor is computed once in Decimal and kept as an exact
# integer ratio, so a record pays for one integer multiply-and-divide instead of Decimal arithmetic.
_ANNUITY = {
    (r, n): _annuity_factor(r, n).as_integer_ratio()
    for product, rates in _RATES_BP.items()
    for r in rates
    for n in _TERMS[product]
}


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _micro(u: int) -> str:
    return f"{u // 1_000_000}.{u % 1_000_000:06d}"


def _add_months(d: date, months: int) -> date:
    """Same day-of-month `months` later (or earlier), clamped to the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = d.day
    if day > 28:
        nxt = date(year + month // 12, month % 12 + 1, 1)
        day = min(day, (nxt - timedelta(days=1)).day)
    return date(year, month, day)


def _int(rng: random.Random, a: int, b: int) -> int:
    """Uniform integer in [a, b]; `randint` costs several times more and this runs ~20 times a record."""
    return a + int(rng.random() * (b - a + 1))


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def _weighted(rng: random.Random, items: Sequence[Any], cum: list[int]) -> Any:
    return items[bisect(cum, rng.random() * cum[-1])]


def _name(rng: random.Random, male: bool) -> str:
    chars = _MALE_CHARS if male else _FEMALE_CHARS
    surname = _weighted(rng, _SURNAMES, _SURNAME_CUM)
    if rng.random() < 0.25:
        return surname + _pick(rng, chars)
    return surname + _pick(rng, chars) + _pick(rng, chars)


# Every (birth date, sequence) pair of the range, visited in a scrambled order by a record's index: a team's
# records never share an ID number (up to 7 million of them), and birth dates still spread evenly.
_ID_SLOTS = (_BIRTH_LAST - _BIRTH_FIRST + 1) * 499
_ID_STRIDE = 4_999_999  # coprime with _ID_SLOTS, so index -> slot is one-to-one
assert math.gcd(_ID_STRIDE, _ID_SLOTS) == 1


def _id_number(rng: random.Random, seed: int, team: str, index: int, area: str, male: bool) -> str:
    # Two draws of the record's stream belong to the ID number: taken either way, so that every later field of
    # a record (address, loan, history) keeps its value for a seed.
    rng.random(), rng.random()
    slot = (index * _ID_STRIDE + zlib.crc32(f"{seed}:{team}".encode())) % _ID_SLOTS
    born = date.fromordinal(_BIRTH_FIRST + slot // 499)
    seq = (slot % 499 + 1) * 2 + male  # the 17th digit is odd for men
    first17 = f"{area}{born.year}{born.month:02d}{born.day:02d}{seq:03d}"
    return first17 + gb11643_check_digit(first17)


def _address(rng: random.Random, district: str, estate: _Estate) -> str:
    if estate.high_rise:
        building, unit = _int(rng, 1, 20), _int(rng, 1, 2)
        floor, room = _int(rng, 2, 32), _int(rng, 1, 4)
    else:
        building, unit = _int(rng, 1, 40), _int(rng, 1, 4)
        floor, room = _int(rng, 1, 6), _int(rng, 1, 2)
    return (
        f"浙江省杭州市{district}{estate.road}{estate.number}号{estate.name}"
        f"{building}幢{unit}单元{floor}{room:02d}室"
    )


def _dpd(rng: random.Random) -> int:
    bucket = bisect(_BUCKET_CUM, rng.random() * _BUCKET_CUM[-1]) + 1
    if bucket == 7:
        # Fewer cases the longer they age: the density falls from 181 days towards _MAX_DPD.
        return 181 + int((_MAX_DPD - 181) * (1 - (1 - rng.random()) ** 0.5) ** 2)
    return _int(rng, 30 * bucket - 29, 30 * bucket)


def _loan(rng: random.Random, product: str, as_of: date, dpd: int) -> dict[str, Any]:
    """The contract, its schedule and payments, consistent with `dpd` (domain B-1)."""
    lo, hi, step = _PRODUCT_LIMITS[product]
    tiers = _CONSUMER_TIERS if product == "consumer_instalment" else _CASH_TIERS
    t_lo, t_hi, _ = tiers[bisect(_TIER_CUM[product], rng.random() * _TIER_CUM[product][-1])]
    term = _pick(rng, _TERMS[product])
    rate_bp = _pick(rng, _RATES_BP[product])
    first_unpaid = as_of - timedelta(days=dpd)
    # Due dates from the first unpaid one up to as_of: one a month on the same day.
    months = (as_of.year - first_unpaid.year) * 12 + as_of.month - first_unpaid.month
    due_in_window = months + (_add_months(first_unpaid, months) <= as_of)
    # Instalments already paid before the first unpaid one; long arrears mean a loan near or past maturity.
    min_paid = max(0, term - _MAX_UNPAID_ROWS) if due_in_window > _MAX_UNPAID_ROWS else 0
    paid = _int(rng, min_paid, term - 1)
    unpaid = min(term - paid, due_in_window)
    # The original principal is sized so that what is left after `paid` instalments lands in the tier.
    target = _int(rng, t_lo, t_hi)
    principal = min(hi, max(lo, -(-target * term // (term - paid) // step) * step)) * 100

    # Integer cents with half-up rounding of each month's interest (F-1, F-3).
    num, den = _ANNUITY[rate_bp, term]
    instalment = (2 * principal * num + den) // (2 * den)  # half-up to the cent
    balance = principal
    for _ in range(paid):  # paid < term, so the last, residue-absorbing instalment is never among them
        balance -= instalment - (balance * rate_bp + 5_000) // 10_000
    outstanding = balance
    first_interest = (balance * rate_bp + 5_000) // 10_000
    last_payment = instalment
    if paid + unpaid == term:
        for _ in range(paid, term - 1):
            balance -= instalment - (balance * rate_bp + 5_000) // 10_000
        last_payment = balance + (balance * rate_bp + 5_000) // 10_000
    due_str = _money(instalment)

    shown_paid = min(paid, _int(rng, 1, 4), _MAX_HISTORY_ROWS - unpaid)
    history: list[dict[str, Any]] = []
    day_before = first_unpaid - _ONE_DAY
    for k in range(-shown_paid, 0):
        due_date = _add_months(first_unpaid, k)
        # Most paid on or a few days before the due date; some cleared late.
        late = _int(rng, 1, 20) if rng.random() < 0.25 else -_int(rng, 0, 3)
        paid_on = min(due_date + timedelta(days=late), day_before)
        history.append(
            {
                "due_date": due_date.isoformat(),
                "amount_due": due_str,
                "amount_paid": due_str,
                "paid_on": paid_on.isoformat(),
            }
        )

    arrears = 0
    for k in range(unpaid):
        due_date = _add_months(first_unpaid, k)
        amount_due = last_payment if paid + k == term - 1 else instalment
        history.append(
            {
                "due_date": due_date.isoformat(),
                "amount_due": _money(amount_due),
                "amount_paid": "0.00",
                "paid_on": None,
            }
        )
        arrears += amount_due
    oldest_due = instalment if paid + 1 < term else last_payment
    # A part payment goes to interest first, then principal; it never takes the balance below the product's
    # floor, so the data keeps the product's balance range.
    max_partial = min(oldest_due - 1, first_interest + outstanding - lo * 100) // 100
    if dpd > 1 and max_partial >= 1 and rng.random() < 0.3:
        partial = _int(rng, 1, max_partial) * 100  # whole yuan, as people pay at a counter or by transfer
        oldest = history[shown_paid]
        oldest["amount_paid"] = _money(partial)
        oldest["paid_on"] = (first_unpaid + timedelta(days=_int(rng, 1, dpd - 1))).isoformat()
        arrears -= partial
        outstanding -= max(0, partial - first_interest)
    return {
        "outstanding_principal": _money(outstanding),
        "overdue_amount": _money(arrears),
        "contractual_instalment": _money(instalment),
        "monthly_rate": f"0.{rate_bp:04d}",
        "repayment_history": history,
    }


def _record(
    seed: int, team: str, index: int, districts: Sequence[str], district_cum: list[int], as_of: date
) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{team}:{index}")
    district = _weighted(rng, districts, district_cum)
    estate = _pick(rng, _ESTATES[district])
    male = rng.random() < 0.56
    product = "consumer_instalment" if rng.random() < 0.55 else "cash_loan"
    dpd = _dpd(rng)
    bucket = min(7, -(-dpd // 30))

    # Older arrears come with more broken promises and more lost contact.
    r = rng.random()
    broken = 0 if r < 0.5 - 0.05 * bucket else 1 if r < 0.8 - 0.03 * bucket else _int(rng, 2, 4)
    contact_lost = rng.random() < 0.05 + 0.04 * bucket
    since_contact = _int(rng, 31, 180) if contact_lost else _int(rng, 0, min(60, 5 * bucket + 10))

    record: dict[str, Any] = {
        "external_id": f"LN-{team.upper().replace('-', '')}-{index:07d}",
        "team": team,
        "borrower_name": _name(rng, male),
        "phone": _pick(rng, _MOBILE_PREFIXES) + f"{_int(rng, 0, 99_999_999):08d}",
        "id_number": _id_number(rng, seed, team, index, DISTRICT_AREA_CODES[district], male),
        "address": _address(rng, district, estate),
        "district": district,
        "product_type": product,
        "dpd": dpd,
        "lat": _micro(estate.lat_u + _int(rng, -2_500, 2_500)),
        "lon": _micro(estate.lon_u + _int(rng, -2_500, 2_500)),
        "broken_ptp_count": broken,
        "days_since_last_contact": since_contact,
        "contact_lost": contact_lost,
        # A current restructure plan is rare among visit candidates and excluded from queues (§6.3).
        "active_plan_current": rng.random() < 0.02,
    }
    record.update(_loan(rng, product, as_of, dpd))
    return record


def generate_import_records(
    n: int,
    *,
    seed: int = 2026,
    team: str = "hz-a",
    districts: Sequence[str] | None = None,
    as_of: date = DEFAULT_AS_OF,
    start: int = 1,
) -> list[dict[str, Any]]:
    """`n` import records numbered from `start`, in the team's districts (default: TEAM_DISTRICTS[team]).

    Every value is JSON-safe (str, int, bool, list, or None for an unpaid instalment's `paid_on`).
    `external_id` carries the team, so two teams' demo files never claim the same account, and the records
    of one seed and team never share an ID number.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    chosen = tuple(districts) if districts is not None else TEAM_DISTRICTS.get(team, DISTRICTS)
    unknown = [d for d in chosen if d not in _ESTATES]
    if unknown or not chosen:
        raise ValueError(f"districts must be a non-empty subset of {', '.join(DISTRICTS)}")
    cum = list(accumulate(_DISTRICT_WEIGHT[d] for d in chosen))
    return [_record(seed, team, i, chosen, cum, as_of) for i in range(start, start + n)]


CSV_COLUMNS: tuple[str, ...] = (
    "external_id",
    "team",
    "borrower_name",
    "phone",
    "id_number",
    "address",
    "district",
    "product_type",
    "outstanding_principal",
    "overdue_amount",
    "dpd",
    "lat",
    "lon",
    "contractual_instalment",
    "monthly_rate",
    "broken_ptp_count",
    "days_since_last_contact",
    "repayment_history",
    "contact_lost",
    "active_plan_current",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def to_csv_rows(records: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Flat CSV form: the protocol's column names, booleans as true/false, repayment_history as JSON."""
    header = list(CSV_COLUMNS)
    rows = [[_cell(rec.get(col)) for col in header] for rec in records]
    return header, rows


# (username, name, role, team, districts, experience_years)
_USERS: tuple[tuple[str, str, str, str, tuple[str, ...], int], ...] = (
    ("admin", "周建华", "admin", "hz-a", (), 12),
    ("sup.a", "沈丽萍", "supervisor", "hz-a", TEAM_DISTRICTS["hz-a"], 9),
    ("sup.b", "钱国强", "supervisor", "hz-b", TEAM_DISTRICTS["hz-b"], 8),
    ("inv.a1", "陈志刚", "investigator", "hz-a", ("上城区", "拱墅区"), 7),
    ("inv.a2", "王婷", "investigator", "hz-a", ("上城区", "西湖区"), 4),
    ("inv.a3", "张磊", "investigator", "hz-a", ("拱墅区", "余杭区"), 2),
    ("inv.a4", "李雪梅", "investigator", "hz-a", ("西湖区", "余杭区"), 5),
    ("inv.a5", "吴俊", "investigator", "hz-a", ("上城区", "拱墅区", "西湖区"), 1),
    ("inv.a6", "徐晓燕", "investigator", "hz-a", ("余杭区", "西湖区"), 3),
    ("inv.b1", "朱海峰", "investigator", "hz-b", ("滨江区", "萧山区"), 6),
    ("inv.b2", "杨静", "investigator", "hz-b", ("萧山区", "钱塘区"), 3),
    ("inv.b3", "胡鹏飞", "investigator", "hz-b", ("临平区", "钱塘区"), 4),
    ("inv.b4", "金文娟", "investigator", "hz-b", ("滨江区", "临平区"), 1),
)


def demo_users() -> list[dict[str, Any]]:
    """Demo accounts for teams hz-a and hz-b; every district is covered by at least two investigators (R-2).

    The admin carries team hz-a only because every account needs one; its rights span all teams.
    """
    return [
        {
            "username": username,
            "password": DEMO_PASSWORD,
            "name": name,
            "role": role,
            "team": team,
            "districts": list(districts),
            "experience_years": years,
        }
        for username, name, role, team, districts, years in _USERS
    ]
