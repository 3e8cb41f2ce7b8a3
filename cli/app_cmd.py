"""`fieldvisit app --server URL --port P [--host 127.0.0.1]`: serves the app in web mode, offline (no CDN)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

__all__ = ["ASSETS_DIR", "add_arguments", "run"]

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_PORT = 8550


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, help="central server URL shown on the sign-in page")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the app's web server")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    p.add_argument("--lock-minutes", type=float, default=None, help="idle minutes before the app locks")


def run(args: argparse.Namespace) -> int:
    import flet as ft

    from app.config import LOCK_ENV, SERVER_ENV

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = getattr(args, "server", None)
    if server:
        os.environ[SERVER_ENV] = server
    lock_minutes = getattr(args, "lock_minutes", None)
    if lock_minutes:
        os.environ[LOCK_ENV] = str(lock_minutes)
    from app.main import main

    ft.run(
        main,
        view=ft.AppView.WEB_BROWSER,
        host=getattr(args, "host", None) or "127.0.0.1",
        port=int(getattr(args, "port", None) or DEFAULT_PORT),
        no_cdn=True,
        assets_dir=str(ASSETS_DIR),
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="fieldvisit app", description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
