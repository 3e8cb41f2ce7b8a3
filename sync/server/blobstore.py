"""Where blob bytes live: a directory on the file system (the default, beside the database) or any
S3-compatible object store, chosen by `FIELDVISIT_BLOB_URL` (`file:///dir` or `s3://bucket[/prefix]`).

The database keeps what is known about a blob (its hash, size, the reports naming it, the scope rules);
a store keeps only bytes under their SHA-256. A blob's bytes are written to the store before its row is
committed, and deleted after its row is gone, so a row always names bytes that exist. Bytes are
immutable: a hash names one content forever, which is what lets a store be copied while in use.

Every method blocks (file or network I/O): the server calls them off the event loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlparse

__all__ = [
    "CHUNK",
    "SCRATCH",
    "BlobStore",
    "FileBlobStore",
    "S3BlobStore",
    "blob_store_for",
    "default_blob_url",
]

CHUNK = 256 * 1024
SCRATCH = "uploads/"  # where an object store keeps the pieces of partial uploads, beside the blobs
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _check(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return sha256


class BlobStore(Protocol):
    """Bytes addressed by their SHA-256 (lowercase hex); the caller has checked the hash."""

    url: str

    def put(self, sha256: str, data: bytes | IO[bytes]) -> None:
        """Store the bytes (a file object is read to its end), durably, replacing nothing else."""

    def get(self, sha256: str) -> bytes | None:
        """All the bytes, or None when not stored."""

    def iter(self, sha256: str, chunk: int = CHUNK) -> Iterator[bytes] | None:
        """The bytes in pieces (for streaming a response), or None when not stored."""

    def head(self, sha256: str) -> int | None:
        """The stored size, or None."""

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes; nothing happens when they are not stored."""


class FileBlobStore:
    """One file per blob under `root/ab/cd/<sha256>`; written to a temporary file, synced, then renamed."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = self.root.resolve().as_uri()

    def path(self, sha256: str) -> Path:
        sha = _check(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, sha256: str, data: bytes | IO[bytes]) -> None:
        dest = self.path(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    while piece := data.read(CHUNK):
                        out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(dest.parent)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def iter(self, sha256: str, chunk: int = CHUNK) -> Iterator[bytes] | None:
        try:
            f = open(self.path(sha256), "rb")  # closed by the generator below
        except FileNotFoundError:
            return None

        def pieces() -> Iterator[bytes]:
            with f:
                while piece := f.read(chunk):
                    yield piece

        return pieces()

    def head(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        return self.head(sha256) is not None

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3BlobStore:
    """Objects `<prefix>/<sha256>` in one bucket of an S3-compatible service (AWS S3, Alibaba OSS, MinIO…).

    Credentials and region come from the standard AWS variables (`AWS_ACCESS_KEY_ID`,
    `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, …); `endpoint` (FIELDVISIT_S3_ENDPOINT) names a service
    other than AWS.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None, client: Any = None):
        if client is None:
            import boto3  # the server extra; imported only when object storage is configured
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint or None,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._s3 = client

    def key(self, sha256: str) -> str:
        sha = _check(sha256)
        return f"{self.prefix}/{sha}" if self.prefix else sha

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def put(self, sha256: str, data: bytes | IO[bytes]) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            self._s3.put_object(Bucket=self.bucket, Key=self.key(sha256), Body=bytes(data))
        else:
            # Multipart above the transfer threshold, so a large document never sits whole in memory.
            self._s3.upload_fileobj(data, self.bucket, self.key(sha256))

    def _open(self, sha256: str) -> Any | None:
        from botocore.exceptions import ClientError

        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def get(self, sha256: str) -> bytes | None:
        body = self._open(sha256)
        if body is None:
            return None
        with contextlib.closing(body):
            return bytes(body.read())

    def iter(self, sha256: str, chunk: int = CHUNK) -> Iterator[bytes] | None:
        body = self._open(sha256)
        if body is None:
            return None

        def pieces() -> Iterator[bytes]:
            with contextlib.closing(body):
                yield from body.iter_chunks(chunk)

        return pieces()

    def head(self, sha256: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=self.key(sha256))["ContentLength"])
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self.head(sha256) is not None

    def delete(self, sha256: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self.key(sha256))

    # -- scratch objects: the pieces of partial uploads (`sync.server.store.uploads.PartialObjects`), under
    # `<prefix>/uploads/`, apart from the blobs (whose names are bare hashes) ----------------------------

    def scratch_key(self, name: str) -> str:
        return f"{self.prefix}/{SCRATCH}{name}" if self.prefix else f"{SCRATCH}{name}"

    def put_scratch(self, name: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=self.scratch_key(name), Body=bytes(data))

    def list_scratch(self, under: str = "") -> list[tuple[str, int, datetime]]:
        """Every scratch object whose name starts with `under`: (name, size, last modified), by name."""
        root = self.scratch_key("")
        found = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.scratch_key(under)
        )
        for page in pages:
            for o in page.get("Contents", []):
                found.append((str(o["Key"])[len(root) :], int(o["Size"]), o["LastModified"]))
        return sorted(found)

    def open_scratch(self, name: str, chunk: int = CHUNK) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=self.bucket, Key=self.scratch_key(name))["Body"]
        with contextlib.closing(body):
            yield from body.iter_chunks(chunk)

    def delete_scratch(self, names: list[str]) -> None:
        for i in range(0, len(names), 1000):  # the most one request deletes
            keys = [{"Key": self.scratch_key(n)} for n in names[i : i + 1000]]
            self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


def default_blob_url(db_path: str) -> str:
    """`file://` of `<db>.blobs` beside the database file (a private temporary directory for an in-memory
    database)."""
    if db_path == ":memory:" or db_path.startswith("file:"):
        return Path(tempfile.gettempdir(), f"fieldvisit-blobs-{os.getpid()}").as_uri()
    return Path(f"{db_path}.blobs").resolve().as_uri()


def blob_store_for(url: str, *, s3_endpoint: str | None = None) -> BlobStore:
    """The store a `FIELDVISIT_BLOB_URL` names; ValueError for anything else."""
    parts = urlparse(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"a file:// blob URL names a local directory (file:///dir), not {url!r}")
        if not parts.path:
            raise ValueError("the file:// blob URL names no directory")
        return FileBlobStore(unquote(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"an s3:// blob URL names a bucket (s3://bucket[/prefix]), not {url!r}")
        return S3BlobStore(parts.netloc, unquote(parts.path), endpoint=s3_endpoint)
    raise ValueError(f"FIELDVISIT_BLOB_URL must start with file:// or s3://, not {url!r}")
