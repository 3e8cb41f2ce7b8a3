"""FieldVisit app entry point for `flet run` and `flet build`: `main(page)` builds one app session."""

from __future__ import annotations

import os

import flet as ft

from app.main import main

__all__ = ["main"]

if __name__ == "__main__":
    ft.run(main, assets_dir=os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets"))
