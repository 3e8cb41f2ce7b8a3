"""The sync screen's photo progress: photos and documents go up after their reports' text."""

from __future__ import annotations

MESSAGES = {
    "sync.photos_progress": (
        "正在上传照片 {n}/{m} · {done}/{total} MB",
        "Uploading photos {n} of {m} · {done} of {total} MB",
    ),
}
