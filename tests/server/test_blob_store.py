"""Blob bytes in the blob store (file system or S3-compatible): a real `fieldvisit serve` on object storage,
retention's deletions reaching the store, and bytes held in the database moved out."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from models.canonical import content_sha256
from sync.server.blobstore import FileBlobStore, S3BlobStore, blob_store_for
from sync.server.db import Database
from sync.server.store.blobs import drain_blob_deletions, move_legacy_blobs, queue_blob_deletion

from .conftest import example_report
from .s3_local import LocalS3
from .serve_process import prepared_database, serve


def test_photo_is_stored_in_the_bucket_and_served_back_when_serve_runs_on_s3(
    database_location: str, local_s3: LocalS3
) -> None:
    bucket = local_s3.new_bucket()
    blob_env = {"FIELDVISIT_BLOB_URL": f"s3://{bucket}/photos", "FIELDVISIT_S3_ENDPOINT": local_s3.endpoint}
    db = database_location
    _, visit_id = prepared_database(db)
    photo = os.urandom(70_000)
    sha = hashlib.sha256(photo).hexdigest()
    rep = example_report(visit_id)
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/jpeg", "size_bytes": len(photo)}
    ]
    with serve(db, env=blob_env) as url:
        phone = httpx.post(
            f"{url}/v1/auth/login", json={"username": "inv.a1", "password": "demo1234", "device_name": "p"}
        ).json()
        auth = {"Authorization": f"Bearer {phone['access_token']}"}
        mutation = {
            "mutation_id": 1,
            "kind": "submit_report",
            "report_id": rep["report_id"],
            "version_id": str(uuid.uuid4()),
            "base_version": 0,
            "content_sha256": content_sha256(rep),
            "blobs": [sha],
            "report": rep,
        }
        pushed = httpx.post(
            f"{url}/v1/sync/push",
            json={
                "device_id": phone["device_id"],
                "server_epoch": phone["server_epoch"],
                "mutations": [mutation],
            },
            headers=auth,
            timeout=30,
        )
        put = httpx.put(f"{url}/v1/blobs/{sha}", content=photo, headers=auth, timeout=30)
        got = httpx.get(f"{url}/v1/blobs/{sha}", headers=auth, timeout=30)

    assert pushed.json()["results"][0]["missing_blobs"] == [sha]
    assert put.status_code == 201
    assert got.status_code == 200 and got.content == photo
    assert local_s3.keys(bucket) == [f"photos/{sha}"]
    assert not Path(f"{db}.blobs").exists()


def test_bytes_leave_the_store_when_retention_deleted_the_blob_row(
    database_location: str, local_s3: LocalS3
) -> None:
    bucket = local_s3.new_bucket()
    store = blob_store_for(f"s3://{bucket}", s3_endpoint=local_s3.endpoint)
    database = Database(database_location, readers=1)
    kept, gone = (hashlib.sha256(x).hexdigest() for x in (b"kept", b"gone"))
    now = datetime(2026, 11, 20, tzinfo=UTC)
    try:
        for sha, data in ((kept, b"kept"), (gone, b"gone")):
            store.put(sha, data)
            database.write_sync(
                lambda db, s=sha, n=len(data): db.execute(
                    "INSERT INTO blobs(sha256, size, data, created_at) VALUES (?, ?, NULL, ?)",
                    [s, n, now.isoformat()],
                )
            )
        database.write_sync(queue_blob_deletion, gone, now)

        drained = drain_blob_deletions(database, store)
        again = drain_blob_deletions(database, store)
    finally:
        database.close()

    assert isinstance(store, S3BlobStore)
    assert (drained, again) == (1, 0)
    assert local_s3.keys(bucket) == [kept]
    assert store.get(kept) == b"kept" and store.head(gone) is None


def test_bytes_held_in_the_database_move_to_the_store_when_a_server_opens_it(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "fv.db"), readers=1)
    data = b"an old photo"
    sha = hashlib.sha256(data).hexdigest()
    store = FileBlobStore(tmp_path / "blobs")
    try:
        database.write_sync(
            lambda db: db.execute(
                "INSERT INTO blobs(sha256, size, data, created_at) VALUES (?, ?, ?, '2026-01-01')",
                [sha, len(data), data],
            )
        )
        moved = move_legacy_blobs(database, store)
        left = database.read_sync(
            lambda db: db.execute("SELECT COUNT(*) FROM blobs WHERE data IS NOT NULL").fetchone()[0]
        )
    finally:
        database.close()

    assert (moved, left) == (1, 0)
    assert store.get(sha) == data and store.path(sha).parent.parent.name == sha[:2]
