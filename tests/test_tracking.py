"""Plans and promises after the visit (P-6, §5.2), the 2×2 segment (§5.4), the escalation recommendation
(§5.5) and the day's route (§6.3): the pure rules of models.tracking and models.route."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from models.route import Stop, distance_km, order_route
from models.tracking import (
    Due,
    EscalationInputs,
    Payment,
    ability,
    plan_status,
    promise_status,
    recommendation,
    segment,
)

SCHEDULE = [Due(date(2027, m, 20), D("1100.16")) for m in (1, 2, 3)]
SINCE = date(2026, 12, 1)


def test_plan_status_performing_when_every_due_instalment_is_paid() -> None:
    st = plan_status(
        SCHEDULE, [Payment(date(2027, 1, 19), D("1100.16"))], since=SINCE, today=date(2027, 2, 1)
    )
    assert (st.state, st.missed, st.paid, st.due_to_date) == ("performing", 0, D("1100.16"), D("1100.16"))
    assert st.next_due_date == date(2027, 2, 20)


def test_plan_status_performing_when_an_instalment_is_late_within_the_grace_days() -> None:
    st = plan_status(SCHEDULE, [], since=SINCE, today=date(2027, 1, 23))
    assert (st.state, st.missed) == ("performing", 0)


def test_plan_status_missed_1_when_one_instalment_is_unpaid_past_grace() -> None:
    st = plan_status(SCHEDULE, [], since=SINCE, today=date(2027, 1, 24))
    assert (st.state, st.missed) == ("missed_1", 1)


def test_plan_status_lapsed_when_two_instalments_are_unpaid_past_grace() -> None:
    paid = [Payment(date(2027, 1, 20), D("1100.16"))]
    st = plan_status(SCHEDULE, paid, since=SINCE, today=date(2027, 3, 24))
    assert (st.state, st.missed) == ("lapsed", 2)


def test_plan_status_payments_fill_oldest_first_when_a_late_payment_arrives() -> None:
    # Two payments after two due dates cover both: nothing is missed.
    paid = [Payment(date(2027, 2, 21), D("2200.32"))]
    st = plan_status(SCHEDULE, paid, since=SINCE, today=date(2027, 2, 22))
    assert (st.state, st.missed) == ("performing", 0)


def test_plan_status_ignores_payments_before_the_checkin_day() -> None:
    paid = [Payment(date(2026, 11, 30), D("3300.48"))]
    st = plan_status(SCHEDULE, paid, since=SINCE, today=date(2027, 1, 24))
    assert (st.state, st.paid) == ("missed_1", D("0.00"))


def test_plan_status_completed_when_everything_is_paid() -> None:
    st = plan_status(SCHEDULE, [Payment(date(2027, 1, 5), D("3300.48"))], since=SINCE, today=date(2027, 1, 6))
    assert st.state == "completed" and st.next_due_date is None


def test_plan_status_stays_lapsed_when_paid_after_the_lapse() -> None:
    st = plan_status(
        SCHEDULE,
        [Payment(date(2027, 4, 1), D("3300.48"))],
        since=SINCE,
        today=date(2027, 4, 2),
        lapsed_before=True,
    )
    assert st.state == "lapsed"


def test_promise_status_kept_when_the_amount_arrives_by_date_plus_grace() -> None:
    paid = [Payment(date(2026, 12, 10), D("300.00")), Payment(date(2026, 12, 13), D("200.00"))]
    st = promise_status(D("500.00"), date(2026, 12, 10), paid, since=SINCE, today=date(2026, 12, 20))
    assert (st.state, st.paid) == ("kept", D("500.00"))


def test_promise_status_open_until_the_grace_days_have_passed() -> None:
    st = promise_status(D("500.00"), date(2026, 12, 10), [], since=SINCE, today=date(2026, 12, 13))
    assert st.state == "open"


def test_promise_status_broken_when_too_little_arrived_in_time() -> None:
    paid = [Payment(date(2026, 12, 10), D("499.99")), Payment(date(2026, 12, 14), D("1.00"))]
    st = promise_status(D("500.00"), date(2026, 12, 10), paid, since=SINCE, today=date(2026, 12, 14))
    assert st.state == "broken"


def test_segment_unwilling_able_when_refuses_and_capacity_covers_the_instalment() -> None:
    assert ability(D("1840.00"), D("1100.16")) == "able"
    assert segment("refuses", "able") == "unwilling_able"
    assert segment("hesitant", ability(D("500.00"), D("1100.16"))) == "willing_unable"


def test_segment_none_when_ability_or_willingness_is_unknown() -> None:
    assert ability(None, D("1.00")) is None and ability(D("1.00"), None) is None
    assert segment(None, "able") is None and segment("cooperative", None) is None


def test_recommendation_escalate_when_any_condition_of_5_5_holds() -> None:
    rec = recommendation(
        EscalationInputs(
            segment="unwilling_able",
            contact_lost=True,
            days_since_last_contact=31,
            broken_promises=2,
            plan_lapsed=True,
            bucket=4,
            balance=D("30000.00"),
            fraud=True,
        )
    )
    assert rec == {
        "escalate_legal": True,
        "reasons": [
            "unwilling_able",
            "contact_lost_30d",
            "broken_ptp_2",
            "plan_lapsed",
            "late_bucket_high_balance",
            "fraud",
        ],
    }


def test_recommendation_none_when_just_below_every_threshold() -> None:
    rec = recommendation(
        EscalationInputs(
            segment="willing_able",
            contact_lost=True,
            days_since_last_contact=30,
            broken_promises=1,
            bucket=3,
            balance=D("99999.00"),
        )
    )
    assert rec == {"escalate_legal": False, "reasons": []}


# A fixed set of coordinates on one meridian: the order from the start is by distance along it.
LINE = [Stop("c", 30.30, 120.0), Stop("a", 30.10, 120.0), Stop("d", 30.40, 120.0), Stop("b", 30.20, 120.0)]


def test_order_route_visits_nearest_first_when_stops_lie_on_a_line() -> None:
    route = order_route(LINE, start=(30.0, 120.0))
    assert route.order == ["a", "b", "c", "d"]
    assert route.distance_km == D(str(round(distance_km((30.0, 120.0), (30.4, 120.0)), 1)))


def test_order_route_two_opt_uncrosses_the_path_when_nearest_neighbour_crosses_itself() -> None:
    # From the start, nearest neighbour takes p1, p2, then p4 (nearest to p2), then crosses back to p3.
    stops = [Stop("p1", 0.0, 1.0), Stop("p2", 0.0, 2.2), Stop("p3", 1.0, 1.0), Stop("p4", 1.0, 2.0)]
    start = (0.0, 0.0)
    route = order_route(stops, start=start)
    where = {s.key: (s.lat, s.lon) for s in stops}
    nn = [start, *(where[k] for k in ("p1", "p2", "p4", "p3"))]
    nn_km = sum(distance_km(nn[i], nn[i + 1]) for i in range(len(nn) - 1))
    path = [start, *(where[k] for k in route.order)]
    km = sum(distance_km(path[i], path[i + 1]) for i in range(len(path) - 1))
    assert sorted(route.order) == ["p1", "p2", "p3", "p4"]
    assert km <= nn_km + 1e-9
    assert route.distance_km == D(str(round(km, 1)))


def test_order_route_empty_when_there_are_no_stops() -> None:
    assert order_route([]).order == [] and order_route([]).distance_km == D("0.0")


def test_order_route_without_start_picks_the_shortest_open_path() -> None:
    route = order_route(LINE)
    assert route.order in (["a", "b", "c", "d"], ["d", "c", "b", "a"])
    assert route.distance_km == D(str(round(distance_km((30.1, 120.0), (30.4, 120.0)), 1)))
