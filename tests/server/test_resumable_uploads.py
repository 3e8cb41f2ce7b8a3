"""Resumable blob uploads (tus 1.0 core on /v1/blobs): offsets, conflicts, the hash at completion, scope and
expiry of partials (protocol.md v1.1 "Resumable blob uploads")."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from models.demo_data import demo_users
from sync.server import create_app
from sync.server.errors import ApiError
from sync.server.routers import blobs as blobs_router

from .conftest import Server, example_report, fast_settings, mutation, push

TUS = "application/offset+octet-stream"


def patch(server: Server, user: str, sha: str, offset: int, body: bytes, length: int | None = None) -> object:
    headers = server.h(user) | {"Content-Type": TUS, "Upload-Offset": str(offset), "Tus-Resumable": "1.0.0"}
    if length is not None:
        headers["Upload-Length"] = str(length)
    return server.client.patch(f"/v1/blobs/{sha}", content=body, headers=headers)


def pushed_with_photo(server: Server, data: bytes, user: str = "inv.a1") -> str:
    """A report naming the photo, pushed before the photo (text first); answers the photo's hash."""
    sha = hashlib.sha256(data).hexdigest()
    rep = example_report(server.new_visit())
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/jpeg", "size_bytes": len(data)}
    ]
    n = len(server._made)
    r = push(server, user, [mutation(n, rep, blobs=[sha])])
    assert r.status_code == 200 and r.json()["results"][0]["missing_blobs"] == [sha]
    return sha


def test_upload_resumes_at_the_servers_offset_when_the_first_part_was_patched(server: Server) -> None:
    data = os.urandom(50_000)
    sha = pushed_with_photo(server, data)

    first = patch(server, "inv.a1", sha, 0, data[:20_000], length=len(data))
    head = server.client.head(f"/v1/blobs/{sha}", headers=server.h("inv.a1"))
    rest = patch(server, "inv.a1", sha, int(head.headers["Upload-Offset"]), data[20_000:])

    assert first.status_code == 204 and first.headers["Upload-Offset"] == "20000"  # type: ignore[attr-defined]
    assert first.headers["Tus-Resumable"] == "1.0.0"  # type: ignore[attr-defined]
    assert head.status_code == 404 and head.headers["Upload-Length"] == str(len(data))
    assert rest.status_code == 201  # type: ignore[attr-defined]
    assert server.client.head(f"/v1/blobs/{sha}", headers=server.h("inv.a1")).status_code == 200
    assert server.client.get(f"/v1/blobs/{sha}", headers=server.h("sup.a")).content == data
    reports = server.client.get("/v1/reports", headers=server.h("sup.a")).json()["items"]
    detail = server.client.get(f"/v1/reports/{reports[0]['report_id']}", headers=server.h("sup.a")).json()
    assert detail["missing_blobs"] == []


def test_patch_answers_409_with_the_servers_offset_when_the_offsets_differ(server: Server) -> None:
    data = os.urandom(10_000)
    sha = hashlib.sha256(data).hexdigest()
    patch(server, "inv.a1", sha, 0, data[:4_000], length=len(data))

    ahead = patch(server, "inv.a1", sha, 6_000, data[6_000:])
    behind = patch(server, "inv.a1", sha, 1_000, data[1_000:])

    for r in (ahead, behind):
        assert r.status_code == 409 and r.headers["Upload-Offset"] == "4000"  # type: ignore[attr-defined]
    assert patch(server, "inv.a1", sha, 4_000, data[4_000:]).status_code == 201  # type: ignore[attr-defined]


def test_partial_is_discarded_with_422_when_the_complete_bytes_do_not_hash(server: Server) -> None:
    data = os.urandom(8_000)
    sha = hashlib.sha256(data).hexdigest()
    patch(server, "inv.a1", sha, 0, data[:5_000], length=len(data))

    bad = patch(server, "inv.a1", sha, 5_000, b"\0" * 3_000)
    head = server.client.head(f"/v1/blobs/{sha}", headers=server.h("inv.a1"))

    assert bad.status_code == 422 and bad.json()["error"] == "hash_mismatch"  # type: ignore[attr-defined]
    assert head.status_code == 404 and "Upload-Offset" not in head.headers
    assert patch(server, "inv.a1", sha, 0, data, length=len(data)).status_code == 201  # type: ignore[attr-defined]


def test_partial_is_invisible_to_another_caller_when_head_asks_for_it(server: Server) -> None:
    data = os.urandom(6_000)
    sha = hashlib.sha256(data).hexdigest()
    patch(server, "inv.a1", sha, 0, data[:3_000], length=len(data))

    other = server.client.head(f"/v1/blobs/{sha}", headers=server.h("inv.b1"))
    fresh = patch(server, "inv.b1", sha, 3_000, data[3_000:], length=len(data))

    assert other.status_code == 404 and "Upload-Offset" not in other.headers
    assert fresh.status_code == 409 and fresh.headers["Upload-Offset"] == "0"  # type: ignore[attr-defined]


def test_patch_of_a_stored_blob_outside_scope_is_404_as_get_answers_it(server: Server) -> None:
    data = os.urandom(4_000)
    sha = pushed_with_photo(server, data)
    patch(server, "inv.a1", sha, 0, data, length=len(data))

    outsider = patch(server, "sup.b", sha, 0, data, length=len(data))
    partly = patch(server, "inv.b1", sha, 0, data[:1_000], length=len(data))
    owner_again = patch(server, "inv.a2", sha, 0, data, length=len(data))

    assert outsider.status_code == 404 and outsider.json()["error"] == "not_found"  # type: ignore[attr-defined]
    assert partly.status_code == 404  # type: ignore[attr-defined]
    assert owner_again.status_code == 200  # type: ignore[attr-defined]
    assert server.client.head(f"/v1/blobs/{sha}", headers=server.h("sup.b")).status_code == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/octet-stream", "Upload-Offset": "0", "Upload-Length": "3"}, 415),
        ({"Content-Type": TUS, "Upload-Length": "3"}, 400),
        ({"Content-Type": TUS, "Upload-Offset": "0"}, 400),
        ({"Content-Type": TUS, "Upload-Offset": "-1", "Upload-Length": "3"}, 400),
        ({"Content-Type": TUS, "Upload-Offset": "0", "Upload-Length": "3", "Tus-Resumable": "0.2.2"}, 412),
        ({"Content-Type": TUS, "Upload-Offset": "0", "Upload-Length": str(1 << 30)}, 413),
        ({"Content-Type": TUS, "Upload-Offset": "0", "Upload-Length": "2"}, 400),
    ],
)
def test_patch_is_refused_with_the_tus_status_when_its_headers_are_wrong(
    server: Server, headers: dict[str, str], status: int
) -> None:
    sha = hashlib.sha256(b"abc").hexdigest()
    r = server.client.patch(f"/v1/blobs/{sha}", content=b"abc", headers=server.h("inv.a1") | headers)
    assert r.status_code == status, r.text
    assert r.json()["error"] and r.headers["Tus-Resumable"] == "1.0.0"


@pytest.mark.parametrize(
    ("offset", "length", "status"),
    [
        (b"9" * 5_000, b"3", 409),  # past int()'s 4,300-digit limit: an offset the server does not hold
        (b"0", b"9" * 5_000, 413),
    ],
)
def test_patch_answers_4xx_not_500_when_upload_headers_are_odd_digits_or_overlong(
    server: Server, offset: bytes, length: bytes, status: int
) -> None:
    sha = hashlib.sha256(b"abc").hexdigest()
    headers = [*server.h("inv.a1").items(), ("Content-Type", TUS.encode())]
    headers += [("Upload-Offset", offset), ("Upload-Length", length)]

    r = server.client.patch(f"/v1/blobs/{sha}", content=b"abc", headers=headers)

    assert r.status_code == status, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0"


@pytest.mark.parametrize("raw", [b"\xb2", b"1\xb9", b"\xbc"])
def test_upload_header_is_refused_with_400_when_its_digits_are_not_ascii(raw: bytes) -> None:
    # "²", "¹" and "¼" (latin-1, as the server decodes headers) pass str.isdigit() or isnumeric() but not int()
    request = Request({"type": "http", "headers": [(b"upload-offset", raw)]})

    with pytest.raises(ApiError) as refused:
        blobs_router._header_int(request, "Upload-Offset", required=True)

    assert refused.value.status == 400


def test_empty_blob_is_stored_with_201_when_patched_with_upload_length_0(server: Server) -> None:
    sha = hashlib.sha256(b"").hexdigest()

    done = patch(server, "inv.a1", sha, 0, b"", length=0)
    again = patch(server, "inv.a1", hashlib.sha256(b"x").hexdigest(), 0, b"", length=0)

    assert done.status_code == 201, done.text  # type: ignore[attr-defined]
    assert again.status_code == 422 and again.json()["error"] == "hash_mismatch"  # type: ignore[attr-defined]


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Server, list[datetime], Path]]:
    now = [datetime(2026, 11, 20, 4, 0, tzinfo=UTC)]
    uploads = tmp_path / "uploads"
    app = create_app(fast_settings(tmp_path / "fv.db", upload_dir=str(uploads)), clock=lambda: now[0])
    users = {n: row["id"] for n, row in app.state.ctx.add_users(demo_users(), now=now[0]).items()}
    with TestClient(app) as client:
        yield Server(client=client, users=users), now, uploads


def test_partial_expires_when_untouched_for_the_expiry_period(
    clocked: tuple[Server, list[datetime], Path],
) -> None:
    server, now, uploads = clocked
    old, new = os.urandom(5_000), os.urandom(5_000)
    old_sha, new_sha = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    patch(server, "inv.a1", old_sha, 0, old[:1_000], length=len(old))
    assert len(list(uploads.glob("*.part"))) == 1

    now[0] += timedelta(days=8)
    server.sessions.clear()  # the access tokens expired meanwhile
    patch(server, "inv.a1", new_sha, 0, new[:1_000], length=len(new))
    head = server.client.head(f"/v1/blobs/{old_sha}", headers=server.h("inv.a1"))

    assert head.status_code == 404 and "Upload-Offset" not in head.headers
    assert [p.name.rsplit(".", 2)[1] for p in uploads.glob("*.part")] == [new_sha]


def test_expired_partial_is_gone_for_its_owner_before_any_sweep_drops_it(
    clocked: tuple[Server, list[datetime], Path],
) -> None:
    server, now, _ = clocked
    data = os.urandom(5_000)
    sha = hashlib.sha256(data).hexdigest()
    patch(server, "inv.a1", sha, 0, data[:1_000], length=len(data))

    now[0] += timedelta(days=8)  # no upload has started since, nor has retention run
    server.sessions.clear()
    head = server.client.head(f"/v1/blobs/{sha}", headers=server.h("inv.a1"))
    resume = patch(server, "inv.a1", sha, 1_000, data[1_000:], length=len(data))
    fresh = patch(server, "inv.a1", sha, 0, data, length=len(data))

    assert head.status_code == 404 and "Upload-Offset" not in head.headers
    assert resume.status_code == 409 and resume.headers["Upload-Offset"] == "0"  # type: ignore[attr-defined]
    assert fresh.status_code == 201  # type: ignore[attr-defined]


def test_options_tells_the_tus_version_and_the_largest_upload(server: Server) -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    r = server.client.options(f"/v1/blobs/{sha}", headers=server.h("inv.a1"))
    assert r.status_code == 204, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0" and r.headers["Tus-Version"] == "1.0.0"
    assert int(r.headers["Tus-Max-Size"]) == 16 * 1024 * 1024
    assert server.client.options(f"/v1/blobs/{sha}").status_code == 401
