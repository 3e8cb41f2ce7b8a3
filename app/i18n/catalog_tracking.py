"""The case's plans and promises after the visit (P-6, §5.2) on the detail screen, and the queue ordered as
the day's route (§6.3). The states themselves are labels of `models.labels` (`plan_state`, `promise_state`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "detail.tracking": ("还款计划与承诺", "Plans and promises"),
    "detail.tracking_none": (
        "此账户暂无已批准的计划或承诺还款",
        "No approved plan or promise to pay on this account yet",
    ),
    "detail.tracked_plan": (
        "还款计划（{approved}批准）：已还 {paid} / 应还至今 {due}",
        "Plan (approved {approved}): paid {paid} of {due} due to date",
    ),
    "detail.tracked_plan_missed": ("逾期 {missed} 期", "{missed} missed"),
    "detail.tracked_plan_next": ("下一期 {date}", "next due {date}"),
    "detail.tracked_promise": ("承诺 {amount}（{date}前）", "Promise of {amount} by {date}"),
    "queue.sort": ("排序", "Order"),
    "queue.sort_priority": ("按优先级", "By priority"),
    "queue.sort_route": ("按路线", "By route"),
    "queue.route_day": ("路线日期", "Route date"),
    "queue.route_prev": ("前一天", "Previous day"),
    "queue.route_next": ("后一天", "Next day"),
    "queue.route_summary": (
        "{date} 路线：{stops} 个拜访，共 {km}",
        "Route for {date}: {stops} visits, {km} in all",
    ),
    "queue.route_from_here": ("从当前位置出发", "from your position"),
    "queue.route_from_first": (
        "未定位：从优先级最高的拜访出发",
        "position unknown: starting at the highest-priority visit",
    ),
    "queue.route_missing": (
        "{n} 个拜访没有坐标，未排入路线",
        "{n} visits without coordinates are not on the route",
    ),
    "queue.route_empty": ("{date} 没有待拜访的计划任务", "No visits left to make on {date}"),
}
