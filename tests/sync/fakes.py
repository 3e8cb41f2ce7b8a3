"""A minimal in-memory protocol v1 server for the engine's unit tests (MockTransport handler)."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Hook = Callable[[httpx.Request], httpx.Response | None]


def jsonr(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def err(status: int, code: str, **extra: Any) -> httpx.Response:
    return jsonr(status, {"error": code, "message": code, "details": [], **extra})


class FakeServer:
    """Push: ordered mutations with gaps and duplicates; versions by version_id; pull: one-change pages."""

    def __init__(self, epoch: str = "epoch-1") -> None:
        self.epoch = epoch
        self.last: dict[str, int] = {}
        self.results: dict[tuple[str, int], dict[str, Any]] = {}
        self.versions: dict[str, str] = {}  # version_id -> content_sha256
        self.blobs: dict[str, bytes] = {}
        self.changes: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.push_bodies: list[dict[str, Any]] = []
        self.hooks: list[Hook] = []
        self.access = "acc-1"
        self.refresh_token = "ref-1"
        self.blob_puts: list[str] = []
        # Resumable uploads (tus): bytes held per hash, the announced length, every PATCH's hash.
        self.partials: dict[str, bytes] = {}
        self.lengths: dict[str, int] = {}
        self.blob_patches: list[str] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for hook in list(self.hooks):
            answer = hook(request)
            if answer is not None:
                return answer
        path = request.url.path
        if path == "/v1/health":
            return jsonr(200, {"status": "ok", "server_epoch": self.epoch, "protocol": 1})
        if path == "/v1/auth/login":
            body = json.loads(request.content)
            device = f"dev-{uuid.uuid4().hex[:8]}"
            return jsonr(
                200,
                self._pair(device)
                | {"user": {"id": "u-1", "name": body["username"], "role": "investigator", "team": "t"}},
            )
        if path == "/v1/auth/refresh":
            return jsonr(200, self._pair("dev-1"))
        if request.headers.get("authorization") != f"Bearer {self.access}":
            return err(401, "invalid_token")
        if path.startswith("/v1/blobs/"):
            sha = path.rsplit("/", 1)[1]
            if request.method == "HEAD":
                if sha in self.blobs:
                    return httpx.Response(200)
                held = self.partials.get(sha)
                tus = (
                    {"Upload-Offset": str(len(held)), "Upload-Length": str(self.lengths[sha])} if held else {}
                )
                return httpx.Response(404, headers=tus)
            if request.method == "PATCH":
                return self._patch(sha, request)
            self.blob_puts.append(sha)
            existed = sha in self.blobs
            self.blobs[sha] = request.content
            return jsonr(200 if existed else 201, {"sha256": sha})
        if path == "/v1/sync/push":
            return self._push(request)
        if path == "/v1/sync/pull":
            return self._pull(request)
        return err(404, "not_found")

    def _patch(self, sha: str, request: httpx.Request) -> httpx.Response:
        self.blob_patches.append(sha)
        offset = int(request.headers["Upload-Offset"])
        self.lengths.setdefault(sha, int(request.headers.get("Upload-Length", "0")))
        held = self.partials.get(sha, b"")
        if offset != len(held):
            return jsonr(409, {"error": "offset_mismatch"}, headers={"Upload-Offset": str(len(held))})
        held += request.content
        if len(held) < self.lengths[sha]:
            self.partials[sha] = held
            return httpx.Response(204, headers={"Upload-Offset": str(len(held))})
        self.partials.pop(sha, None)
        existed = sha in self.blobs
        self.blobs[sha] = held
        return httpx.Response(200 if existed else 201, headers={"Upload-Offset": str(len(held))})

    def _pair(self, device: str) -> dict[str, Any]:
        self.access = f"acc-{uuid.uuid4().hex[:6]}"
        self.refresh_token = f"ref-{uuid.uuid4().hex[:6]}"
        return {
            "device_id": device,
            "access_token": self.access,
            "refresh_token": self.refresh_token,
            "expires_in": 900,
            "server_epoch": self.epoch,
            "user": {"id": "u-1", "name": "a", "role": "investigator", "team": "t"},
        }

    def _push(self, request: httpx.Request) -> httpx.Response:
        raw = request.content
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        self.push_bodies.append(body)
        if body.get("server_epoch") not in (None, self.epoch):
            return err(410, "reset_required")
        device = body["device_id"]
        results = []
        for m in body["mutations"]:
            last = self.last.get(device, 0)
            mid = m["mutation_id"]
            if mid <= last:
                orig = self.results[(device, mid)]
                results.append({"mutation_id": mid, "status": "duplicate", "original": orig})
                continue
            if mid > last + 1:
                return err(409, "mutation_gap", expected=last + 1)
            res: dict[str, Any]
            known = self.versions.get(m["version_id"])
            if known is not None and known != m["content_sha256"]:
                res = {"status": "rejected", "server_version": None, "error": "version_id_reused"}
            else:
                self.versions[m["version_id"]] = m["content_sha256"]
                res = {"status": "applied", "server_version": 1, "error": None}
            self.results[(device, mid)] = res
            self.last[device] = mid
            missing = [s for s in m.get("blobs", []) if s not in self.blobs]
            results.append({"mutation_id": mid, **res, "missing_blobs": missing})
        return jsonr(
            200,
            {"last_mutation_id": self.last.get(device, 0), "server_epoch": self.epoch, "results": results},
        )

    def _pull(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("server_epoch") not in (None, self.epoch):
            return err(410, "reset_required")
        cursor = body.get("cursor")
        start = 0 if cursor is None else int(cursor)
        limit = body.get("limit", 500)
        page = self.changes[start : start + limit]
        nxt = start + len(page)
        return jsonr(
            200,
            {
                "cursor": str(nxt),
                "has_more": nxt < len(self.changes),
                "last_mutation_id": self.last.get(body["device_id"], 0),
                "server_epoch": self.epoch,
                "changes": page,
            },
        )
