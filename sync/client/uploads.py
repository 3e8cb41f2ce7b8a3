"""Photo and document uploads that survive a weak link: tus 1.0 core over /v1/blobs (protocol v1.1
"Resumable blob uploads").

The server holds the bytes of a cut upload, so nothing on the device records an upload's progress: HEAD
says where the server stands (after a cut, a restart of the app or on a new connection) and PATCH goes on
from there. An upload the caller knows to be new (the server's push answer just named the blob missing and
this device has not begun sending it) skips the HEAD: its first PATCH goes at offset 0 with the length, a
round trip less per photo on a 3G link. Should the server hold part of it after all, it answers 409 with its
offset and the upload goes on from there (at most that one request's bytes sent twice); should it hold the
whole blob, it checks the bytes against the hash and answers 200.

A cut while sending is retried at once a few times (a mobile link often recovers within a second); past that
the TransportError goes to the engine, whose scheduler backs off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sync.client.api import ApiClient
from sync.client.errors import ServerError, TransportError

__all__ = ["CHUNK_BYTES", "ResumableUploader", "UploadOutcome"]

log = logging.getLogger(__name__)

# A prepared photo (at most 600 KB) goes in one PATCH: per-request round trips cost more on a 3G link
# than the bytes a cut loses, because the server keeps what arrived before the cut.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """`stored`: the server stored the bytes now (False: it had them). `sent`: body bytes sent, cut
    attempts included; `resumed_from`: the offset the server held when this upload started."""

    stored: bool
    sent: int
    resumed_from: int
    cuts: int = 0


class ResumableUploader:
    def __init__(self, api: ApiClient, *, chunk_bytes: int = CHUNK_BYTES, retries: int = 2) -> None:
        self.api = api
        self.chunk_bytes = max(1, chunk_bytes)
        self.retries = retries

    def upload(
        self,
        sha256: str,
        data: bytes,
        *,
        on_bytes: Callable[[int], None] | None = None,
        new: bool = False,
    ) -> UploadOutcome:
        """Make the server hold `data` under `sha256`, sending only what it lacks. `new`: start with a PATCH
        at offset 0 instead of asking where the server stands (see the module's docstring). `on_bytes(n)`
        is told the offset the server holds after each step. Raises TransportError when the link stays down
        and ServerError for a refusal (413 too large, 422 hash_mismatch)."""
        total = len(data)
        offset = 0
        if not new:
            status = self.api.blob_status(sha256)
            if status.stored:
                return UploadOutcome(stored=False, sent=0, resumed_from=total)
            offset = self._start(status.offset, status.length, total)
        resumed_from, sent, cuts = offset, 0, 0
        accepted = False
        if on_bytes is not None:
            on_bytes(offset)
        # Every step either moves the offset forward or costs a retry, so this ends.
        for _ in range(total // self.chunk_bytes + 8 + 4 * self.retries):
            chunk = data[offset : offset + self.chunk_bytes]
            try:
                answer = self.api.patch_blob(sha256, offset, chunk, length=total)
            except TransportError:
                sent += len(chunk)
                cuts += 1
                if cuts > self.retries:
                    raise
                log.info("upload of blob %s cut at or after offset %d; asking the server", sha256, offset)
                status = self.api.blob_status(sha256)
                if status.stored:
                    return UploadOutcome(stored=True, sent=sent, resumed_from=resumed_from, cuts=cuts)
                offset = self._start(status.offset, status.length, total)
                continue
            sent += len(chunk)
            if answer.complete:
                if on_bytes is not None:
                    on_bytes(total)
                return UploadOutcome(stored=answer.created, sent=sent, resumed_from=resumed_from, cuts=cuts)
            if answer.conflict:
                log.info("blob %s: the server holds %d bytes, not %d", sha256, answer.offset, offset)
                if not accepted and not cuts:
                    resumed_from = self._start(answer.offset, total, total)
            else:
                accepted = True
            offset = self._start(answer.offset, total, total)
            if on_bytes is not None:
                on_bytes(offset)
        raise ServerError(f"upload of blob {sha256} makes no progress", code="upload_stalled")

    @staticmethod
    def _start(offset: int | None, length: int | None, total: int) -> int:
        """Where to go on: the server's offset when it describes this upload, else from the start."""
        if offset is None or length != total or not 0 <= offset <= total:
            return 0
        return offset
