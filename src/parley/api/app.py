"""The ASGI application, built from settings (never at import time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from parley import __version__
from parley.api import (
    alerts,
    conflicts,
    docs,
    evidence,
    exports,
    health,
    incidents,
    log,
    maps,
    parties,
    positions,
    problems,
    sites,
    submissions,
)
from parley.api.cot import router as cot_router
from parley.api.events import Signal
from parley.api.limits import BodyLimit
from parley.api.ogc import router as ogc_router
from parley.api.page import router as page_router
from parley.api.taxii import router as taxii_router
from parley.config import Settings
from parley.hub.core import Hub
from parley.intel.stix import preload_validator


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.hub = hub or Hub(settings)
        preload_validator()  # seconds of imports, off the start-up path
        loop = asyncio.get_running_loop()
        app.state.checkpoints = Signal(loop)
        app.state.alerts = Signal(loop)
        app.state.hub.log.listeners.append(app.state.checkpoints.fire)
        app.state.hub.alert_listeners.append(app.state.alerts.fire)
        try:
            yield
        finally:
            app.state.hub.log.listeners.remove(app.state.checkpoints.fire)
            app.state.hub.alert_listeners.remove(app.state.alerts.fire)
            app.state.hub.detach_check_helpers()  # their streams belong to this loop
            if hub is None:
                app.state.hub.close()

    app = FastAPI(
        title="parley",
        version=__version__,
        description="A verifiable hub for deconfliction and protection notifications.",
        lifespan=lifespan,
        # parley.api.docs serves /docs from packaged assets; ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(parties.router)
    app.include_router(submissions.router)
    app.include_router(alerts.router)
    app.include_router(alerts.webhook_router)
    app.include_router(conflicts.router)
    app.include_router(sites.router)
    app.include_router(positions.router)
    app.include_router(maps.router)
    app.include_router(exports.router)
    app.include_router(incidents.router)
    app.include_router(evidence.router)
    app.include_router(maps.areas_router)
    app.include_router(log.router)
    app.include_router(taxii_router)
    app.include_router(cot_router)
    app.include_router(ogc_router)
    app.include_router(page_router)
    docs.install(app)
    health.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        # A witness that cosigned more than the log holds means the log was rolled back: the
        # operator (and anyone) must see it without reading the server's log.
        alarms = list(app.state.hub.log.cosigners.alarms)
        # Repeated refused authentications: someone guesses tokens, or a party lost track of its
        # rotated one; either way the operator should look (parley party list).
        alarms += app.state.hub.refusals.alarms()
        if alarms:
            return {"status": "alarm", "version": __version__, "alarms": alarms}
        return {"status": "ok", "version": __version__}

    return app
