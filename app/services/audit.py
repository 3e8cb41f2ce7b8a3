"""The device's access log for personal data (D-6: showing full values is logged): ids and codes only."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]


class AuditLog:
    """Append-only JSON lines; each entry is flushed and fsynced before the data is shown."""

    FILE = "audit.jsonl"

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / self.FILE
        self._lock = threading.Lock()

    def record(
        self, action: str, *, user_id: str | None, visit_id: str | None, **extra: Any
    ) -> dict[str, Any]:
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "action": action,
            "user_id": user_id,
            "visit_id": visit_id,
        }
        entry.update(extra)
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return entry

    def entries(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]
