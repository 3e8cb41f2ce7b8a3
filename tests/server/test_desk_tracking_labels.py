"""The desk's follow-up cards speak from the one catalogue (models/labels.py, served at /desk/labels.json):
every state, reason, segment and contact-stop source the tracking API answers has a label in both
languages, and the desk's script carries none of its own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from fastapi import FastAPI
from fastapi.testclient import TestClient

from models.entities import TrackedPlan, TrackedPromise
from models.tracking import RECOMMENDATION_REASONS
from sync.server import create_app
from tests.helpers.pg_fixtures import backend_settings
from tests.server.conftest import fast_settings

SCRIPT = Path(__file__).resolve().parents[2] / "sync/server/desk/static/tracking.js"
CODES = {
    "plan_state": get_args(TrackedPlan.model_fields["state"].annotation),
    "promise_state": get_args(TrackedPromise.model_fields["state"].annotation),
    "escalation": RECOMMENDATION_REASONS,
    "segment": ("willing_able", "willing_unable", "unwilling_able", "unwilling_unable"),
    "reopen_reason": ("plan_lapsed", "ptp_broken"),
    "contact_stop": ("refused_contact", "dispute", "loan_system"),
}


def _app(tmp_path: Path, backend: str, db: str) -> FastAPI:
    return create_app(fast_settings(db, **backend_settings(backend, db, tmp_path)))


def test_desk_labels_name_every_tracking_code_in_both_languages_when_served(
    tmp_path: Path, backend: str, database_location: str
) -> None:
    with TestClient(_app(tmp_path, backend, database_location)) as client:
        zh = client.get("/desk/labels.json", params={"lang": "zh-CN"}).json()
        en = client.get("/desk/labels.json", params={"lang": "en"}).json()
    for kind, codes in CODES.items():
        assert codes, kind
        for code in codes:
            key = f"{kind}.{code}"
            assert re.search(r"[\u4e00-\u9fff]", zh[key]), key
            assert en[key] and not re.search(r"[\u4e00-\u9fff]", en[key]), key
    assert zh["plan_state.lapsed"] == "计划失效" and en["promise_state.broken"] == "Broken"


def test_tracking_script_takes_every_word_from_the_catalogue_when_read(
    tmp_path: Path, backend: str, database_location: str
) -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert not re.search(r"[\u4e00-\u9fff]", text)
    with TestClient(_app(tmp_path, backend, database_location)) as client:
        en = client.get("/desk/labels.json", params={"lang": "en"}).json()
    used = set(re.findall(r'\btk\("([a-z_]+)"\)', text))
    for head in re.findall(r"trkTable\(\[([^\]]*)\]", text):
        used |= set(re.findall(r'"([a-z_]+)"', head))
    assert used and not {f"tracking.{k}" for k in used} - set(en)
    assert set(re.findall(r'code\("([a-z_]+)"', text)) <= set(CODES) | {"tracking"}
