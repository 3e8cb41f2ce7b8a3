"""Partial uploads kept in object storage (`PartialObjects`): an upload begun on one host is finished on
another, pieces written twice at one offset still make the blob, a move of the offset that another worker
made first is refused, and pieces no upload names are swept."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sync.server.blobstore import S3BlobStore, blob_store_for
from sync.server.db import Database
from sync.server.store.uploads import Partial, PartialObjects, begin_upload, record_offset

from .conftest import example_report, mutation
from .s3_local import LocalS3, unreachable_store
from .serve_process import ROOT, prepared_database, serve

TUS = {"Content-Type": "application/offset+octet-stream", "Tus-Resumable": "1.0.0"}


def _pieces(local_s3: LocalS3) -> tuple[str, PartialObjects]:
    bucket = local_s3.new_bucket()
    store = blob_store_for(f"s3://{bucket}/blobs", s3_endpoint=local_s3.endpoint)
    assert isinstance(store, S3BlobStore)
    return bucket, PartialObjects(store)


def test_upload_begun_on_one_host_is_finished_on_another_when_blobs_are_in_object_storage(
    database_location: str, local_s3: LocalS3, tmp_path: Path
) -> None:
    bucket = local_s3.new_bucket()
    s3 = {"FIELDVISIT_BLOB_URL": f"s3://{bucket}/blobs", "FIELDVISIT_S3_ENDPOINT": local_s3.endpoint}
    _, visit_id = prepared_database(
        database_location, blob_url=s3["FIELDVISIT_BLOB_URL"], s3_endpoint=local_s3.endpoint
    )
    photo = os.urandom(90_000)
    sha = hashlib.sha256(photo).hexdigest()
    rep = example_report(visit_id)
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/jpeg", "size_bytes": len(photo)}
    ]
    # Two hosts: nothing on disk in common (each its own temporary directory).
    host_a = s3 | {"TMPDIR": str(tmp_path / "a")}
    host_b = s3 | {"TMPDIR": str(tmp_path / "b")}
    for d in (tmp_path / "a", tmp_path / "b"):
        d.mkdir()
    with serve(database_location, env=host_a) as a, serve(database_location, env=host_b) as b:
        login = httpx.post(
            f"{a}/v1/auth/login", json={"username": "inv.a1", "password": "demo1234", "device_name": "p"}
        ).json()
        auth = {"Authorization": f"Bearer {login['access_token']}"}
        pushed = httpx.post(
            f"{a}/v1/sync/push",
            json={
                "device_id": login["device_id"],
                "server_epoch": login["server_epoch"],
                "mutations": [mutation(1, rep, blobs=[sha])],
            },
            headers=auth,
        )
        first = httpx.patch(
            f"{a}/v1/blobs/{sha}",
            content=photo[:40_000],
            headers=auth | TUS | {"Upload-Offset": "0", "Upload-Length": str(len(photo))},
        )
        head = httpx.head(f"{b}/v1/blobs/{sha}", headers=auth)
        rest = httpx.patch(
            f"{b}/v1/blobs/{sha}",
            content=photo[40_000:],
            headers=auth | TUS | {"Upload-Offset": head.headers["Upload-Offset"]},
        )
        got = httpx.get(f"{a}/v1/blobs/{sha}", headers=auth)

    assert pushed.json()["results"][0]["missing_blobs"] == [sha]
    assert first.status_code == 204 and head.headers["Upload-Offset"] == "40000"
    assert rest.status_code == 201, rest.text
    assert got.status_code == 200 and got.content == photo
    assert local_s3.keys(bucket) == [f"blobs/{sha}"]  # the pieces went once the blob was stored


def test_blob_is_made_of_the_pieces_that_follow_one_another_when_one_offset_was_written_twice(
    local_s3: LocalS3,
) -> None:
    bucket, pieces = _pieces(local_s3)
    data = os.urandom(3_000)
    sha = hashlib.sha256(data).hexdigest()
    # A piece whose answer was lost and that was sent again shorter; then the rest after the shorter one.
    pieces.append("u-1", sha, 0, data[:2_000])
    pieces.append("u-1", sha, 0, data[:1_200])
    held = pieces.append("u-1", sha, 1_200, data[1_200:])

    matched = pieces.complete("u-1", sha, len(data), pieces.blobs)
    pieces.remove("u-1", sha)

    assert held == len(data) and matched
    assert pieces.blobs.get(sha) == data
    assert local_s3.keys(bucket) == [f"blobs/{sha}"]


def test_upload_is_not_complete_when_the_pieces_held_leave_a_gap(local_s3: LocalS3) -> None:
    _, pieces = _pieces(local_s3)
    data = os.urandom(2_000)
    sha = hashlib.sha256(data).hexdigest()
    pieces.append("u-1", sha, 0, data[:500])
    pieces.append("u-1", sha, 1_000, data[1_000:])

    assert not pieces.complete("u-1", sha, len(data), pieces.blobs)
    assert pieces.blobs.get(sha) is None


def test_completing_an_upload_fetches_each_piece_once_and_stores_nothing_when_the_hash_differs(
    local_s3: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, pieces = _pieces(local_s3)
    data = os.urandom(9_000)
    sha = hashlib.sha256(data).hexdigest()
    wrong = hashlib.sha256(b"something else").hexdigest()
    for at in range(0, len(data), 3_000):
        pieces.append("u-1", sha, at, data[at : at + 3_000])
        pieces.append("u-1", wrong, at, data[at : at + 3_000])
    fetched: list[str] = []
    listed: list[str] = []
    open_scratch, list_scratch = pieces.blobs.open_scratch, pieces.blobs.list_scratch
    monkeypatch.setattr(
        pieces.blobs, "open_scratch", lambda name: (fetched.append(name), open_scratch(name))[1]
    )
    monkeypatch.setattr(
        pieces.blobs, "list_scratch", lambda under="": (listed.append(under), list_scratch(under))[1]
    )

    stored = pieces.complete("u-1", sha, len(data), pieces.blobs)
    pieces_of_one = list(fetched)
    refused = pieces.complete("u-1", wrong, len(data), pieces.blobs)

    assert stored and pieces.blobs.get(sha) == data
    assert len(pieces_of_one) == len(set(pieces_of_one)) == 3 and len(listed) == 2
    assert not refused and pieces.blobs.get(wrong) is None
    assert f"blobs/{wrong}" not in local_s3.keys(bucket)


def test_pieces_no_upload_names_are_swept_when_older_than_the_cutoff(local_s3: LocalS3) -> None:
    bucket, pieces = _pieces(local_s3)
    kept, gone = hashlib.sha256(b"kept").hexdigest(), hashlib.sha256(b"gone").hexdigest()
    pieces.append("u-1", kept, 0, b"ke")
    pieces.append("u-1", gone, 0, b"go")
    pieces.append("u-1", gone, 2, b"ne")

    not_yet = pieces.sweep({("u-1", kept)}, datetime.now(UTC) - timedelta(days=1))
    swept = pieces.sweep({("u-1", kept)}, datetime.now(UTC) + timedelta(days=1))

    assert (not_yet, swept) == (0, 1)
    assert [k.split("/")[2] for k in local_s3.keys(bucket)] == [f"u-1.{kept}"]


def test_offset_is_not_moved_when_another_request_moved_it_first(database_location: str) -> None:
    database = Database(database_location, readers=1)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    sha = hashlib.sha256(b"x").hexdigest()
    try:
        database.write_sync(begin_upload, user_id="u-1", sha256=sha, length=100, now=now)
        moved = database.write_sync(record_offset, user_id="u-1", sha256=sha, was=0, offset=40, now=now)
        late = database.write_sync(record_offset, user_id="u-1", sha256=sha, was=0, offset=25, now=now)
        gone = database.write_sync(record_offset, user_id="u-2", sha256=sha, was=0, offset=25, now=now)
    finally:
        database.close()

    assert moved is None
    assert late is not None and (late.offset, late.length) == (40, 100)
    assert gone == Partial(0, 0, "")


def test_retention_expires_a_stale_upload_and_its_pieces_when_blobs_are_in_object_storage(
    database_location: str, local_s3: LocalS3
) -> None:
    bucket, pieces = _pieces(local_s3)
    blob_url = f"s3://{bucket}/blobs"
    stale, fresh = hashlib.sha256(b"stale").hexdigest(), hashlib.sha256(b"fresh").hexdigest()
    long_ago, now = datetime.now(UTC) - timedelta(days=30), datetime.now(UTC)
    database = Database(database_location, readers=1)
    try:
        database.write_sync(begin_upload, user_id="u-1", sha256=stale, length=5, now=long_ago)
        database.write_sync(begin_upload, user_id="u-1", sha256=fresh, length=5, now=now)
    finally:
        database.close()
    pieces.append("u-1", stale, 0, b"st")
    pieces.append("u-1", fresh, 0, b"fr")
    where = "--database-url" if database_location.startswith("postgresql") else "--db"

    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "retention", where, database_location],
        cwd=ROOT,
        env={**os.environ, "FIELDVISIT_BLOB_URL": blob_url, "FIELDVISIT_S3_ENDPOINT": local_s3.endpoint},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert out.returncode == 0, out.stderr
    assert "1 partial uploads expired" in out.stdout
    assert [k.split("/")[2] for k in local_s3.keys(bucket)] == [f"u-1.{fresh}"]


def test_blob_is_made_of_more_pieces_than_python_recurses_when_the_link_was_cut_often(
    local_s3: LocalS3,
) -> None:
    _, pieces = _pieces(local_s3)
    data = os.urandom(10_500)  # 1,050 pieces: past the interpreter's default recursion limit of 1,000
    sha = hashlib.sha256(data).hexdigest()
    for at in range(0, len(data), 10):
        pieces.append("u-1", sha, at, data[at : at + 10])

    assert pieces.complete("u-1", sha, len(data), None)


def test_finished_upload_leaves_its_pieces_for_the_sweep_when_the_store_cannot_be_reached(
    local_s3: LocalS3, caplog: pytest.LogCaptureFixture
) -> None:
    pieces = PartialObjects(unreachable_store())

    pieces.remove("u-1", hashlib.sha256(b"x").hexdigest())  # answers; the request it serves succeeds

    assert "left for the sweep" in caplog.text
