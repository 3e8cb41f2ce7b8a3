"""The app factory: `create_app(settings)` wires the database, middleware, error handlers and routers."""

from __future__ import annotations

import time
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
from sync.server.security import Passwords, token_digest
from sync.server.settings import Settings
from sync.server.store.blobs import move_legacy_blobs
from sync.server.store.common import Principal, server_epoch
from sync.server.store.users import caller_for_token

__all__ = ["Callers", "create_app"]

PUSH_PATH = "/v1/sync/push"


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

    resolve = Callers(ctx, remember_pushes=settings.is_postgres)

    # Added last = outermost: authentication runs before the URL is checked, the URL before the body is read.
    app.add_middleware(BodyLimitMiddleware, limit=settings.body_limit)
    app.add_middleware(NulInUrlMiddleware)
    app.add_middleware(AuthMiddleware, resolve=resolve)
    # Outside Starlette's own error middleware too, so a 500 carries the security headers as well.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeadersMiddleware(build())  # type: ignore[method-assign]
    return app


class Callers:
    """The caller behind each request's access token (the `resolve` of `AuthMiddleware`).

    Every request's caller is read from the database, with the epoch, in one statement: a revocation, a
    rotation, a disabled account or a restore committed by any process counts at once. A push is the one
    exception, and only on PostgreSQL (`remember_pushes`), where that read is a round trip to another
    process: the push's own transaction reads the caller again by its token (store.push.apply_push confirms
    token, device, account and epoch there, with the answer the door would give), so at the door a push may
    be let in by a memory of the tokens this process has let in within `ttl` seconds (at most `size` of them,
    forgotten all at once when full). A token the memory still lets in after it stopped being good (revoked,
    rotated away, disabled, expired) has its push refused by the transaction, whole, with the same 401; its
    only cost is the validation of that push's body, which the same device pays while its token is good.
    The memory holds token digests, never tokens.
    """

    def __init__(
        self, ctx: ServerContext, *, remember_pushes: bool, ttl: float = 60.0, size: int = 10_000
    ) -> None:
        self.ctx = ctx
        self.remember_pushes = remember_pushes
        self.ttl = ttl
        self.size = size
        self._known: dict[str, tuple[Principal, float]] = {}

    async def __call__(self, token: str, path: str) -> Principal:
        ctx = self.ctx
        if self.remember_pushes and path == PUSH_PATH:
            known = self._known.get(token_digest(ctx.secret, token))
            if known is not None and known[1] > time.monotonic():
                return known[0]
        principal, ctx.epoch = ctx.db.read_statement(
            caller_for_token, secret=ctx.secret, token=token, now=ctx.clock()
        )
        if self.remember_pushes:
            if len(self._known) >= self.size:
                self._known.clear()
            self._known[principal.credential] = (principal, time.monotonic() + self.ttl)
        return principal
