"""Contexts through which views reach state and services (`ft.use_context(SessionCtx)`, ...).

The visit forms use `StoreCtx` (the signed-in user's DeviceStore) and `SessionCtx` (user, touch()).
"""

from __future__ import annotations

from typing import Any

import flet as ft

__all__ = ["AppCtx", "QueueCtx", "SessionCtx", "SettingsCtx", "StoreCtx", "SyncCtx", "ViewportCtx"]

AppCtx: Any = ft.create_context(None)
SessionCtx: Any = ft.create_context(None)
SettingsCtx: Any = ft.create_context(None)
SyncCtx: Any = ft.create_context(None)
QueueCtx: Any = ft.create_context(None)
ViewportCtx: Any = ft.create_context(None)
StoreCtx: Any = ft.create_context(None)
