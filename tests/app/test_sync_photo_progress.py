"""The sync screen's photo progress: the engine's photo phase (n of m, bytes) shown while photos go up after
their reports, nothing otherwise."""

from __future__ import annotations

from conftest import FakeEngine

from app.i18n import set_language
from app.state.sync_status import SyncStatusState
from sync.client.status import StatusBoard, SyncStatus


class _Handle(FakeEngine):  # type: ignore[misc]
    def __init__(self, board: StatusBoard) -> None:
        super().__init__()
        self.engine = type("E", (), {"status": board})()


def test_photo_progress_reads_n_of_m_and_megabytes_when_the_engine_uploads_photos() -> None:
    set_language("en")
    board = StatusBoard(SyncStatus())
    s = SyncStatusState(monotonic=lambda: 0.0)
    board.update(
        in_progress=True, phase="blobs", done=2, total=36, blob_bytes_done=450_000, blob_bytes_total=7_200_000
    )

    s.refresh(_Handle(board), None)

    assert (s.photos_done, s.photos_total, s.photo_bytes_total) == (2, 36, 7_200_000)
    assert s.photo_progress == "Uploading photos 3 of 36 · 0.5 of 7.2 MB"
    set_language("zh-CN")
    assert s.photo_progress == "正在上传照片 3/36 · 0.5/7.2 MB"


def test_photo_progress_is_empty_when_the_engine_is_not_uploading_photos() -> None:
    board = StatusBoard(SyncStatus(in_progress=True, phase="push", done=1, total=4))
    s = SyncStatusState(monotonic=lambda: 0.0)
    s.photos_total = 5

    s.refresh(_Handle(board), None)

    assert s.photos_total == 0 and s.photo_progress is None
