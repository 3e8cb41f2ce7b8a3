"""The app factory: `create_app(settings)` wires the database, middleware, error handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from sync.server.blobstore import blob_store_for
from sync.server.context import LoginLimiter, ServerContext
from sync.server.db import Database
from sync.server.desk import install_desk
from sync.server.errors import install_handlers
from sync.server.middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    NulInUrlMiddleware,
    SecurityHeadersMiddleware,
)
from sync.server.openapi import install_docs, install_openapi
from sync.server.routers import auth, blobs, devices, dispatch, feed, health, plans, reports, users, visits
from sync.server.routers import sync as sync_router
from sync.server.security import Passwords
from sync.server.settings import Settings
from sync.server.store.blobs import move_legacy_blobs
from sync.server.store.common import Principal, server_epoch
from sync.server.store.users import caller_for_token

__all__ = ["create_app"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """A ready server on `settings.db` (migrated on open); the database closes at shutdown."""
    settings = settings or Settings()
    db = Database(settings.db, readers=settings.reader_threads, group_max=settings.group_commit_max)
    blob_store = blob_store_for(settings.blob_location, s3_endpoint=settings.s3_endpoint)
    move_legacy_blobs(db, blob_store)
    ctx = ServerContext(
        settings=settings,
        db=db,
        clock=clock or _utcnow,
        passwords=Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib),
        limiter=LoginLimiter(
            db,
            settings.login_max_failures,
            settings.login_window_seconds,
            max_client_failures=settings.login_max_client_failures,
        ),
        blobs=blob_store,
        epoch=db.read_sync(server_epoch),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            db.close()

    app = FastAPI(
        title="FieldVisit central API",
        version="1",
        summary="Sync, review, dispatch and risk feed for FieldVisit (protocol v1)",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs with their own Content-Security-Policy
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    install_openapi(app)
    install_docs(app)
    for module in (health, auth, devices, sync_router, blobs, reports, visits, dispatch, plans, feed, users):
        app.include_router(module.router)
    install_desk(app)

    async def resolve(token: str) -> Principal:
        # Read from the database on every request (one indexed read), never cached in the process: a
        # revocation, a rotation or a restore made by any process on this database counts at once.
        principal, ctx.epoch = db.read_statement(
            caller_for_token, secret=ctx.secret, token=token, now=ctx.clock()
        )
        return principal

    # Added last = outermost: authentication runs before the URL is checked, the URL before the body is read.
    app.add_middleware(BodyLimitMiddleware, limit=settings.body_limit)
    app.add_middleware(NulInUrlMiddleware)
    app.add_middleware(AuthMiddleware, resolve=resolve)
    # Outside Starlette's own error middleware too, so a 500 carries the security headers as well.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeadersMiddleware(build())  # type: ignore[method-assign]
    return app
