"""/readyz (may this process take traffic?) and /metrics (Prometheus text), beside /healthz.

Neither needs a token: a load balancer and a scraper are not parties. So neither says anything
about a party or a record: /readyz names only what is broken, /metrics counts (see
parley.hub.metrics for what is counted, and why nothing is labelled by party).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from parley.api.problems import problem_response
from parley.hub import metrics
from parley.hub.core import Hub


def problems_of(hub: Hub) -> list[str]:
    found = []
    try:
        with hub.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is the answer, not an error
        found.append(f"the database cannot be reached ({type(exc).__name__})")
    if not hub.writer.alive():
        found.append("the log writer thread has stopped: no submission can be stored")
    return found


def install(app: FastAPI) -> None:
    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz(request: Request) -> dict[str, Any] | Response:
        """200 when the database answers and the log writer runs; else 503 saying which not."""
        found = await run_in_threadpool(problems_of, request.app.state.hub)
        if not found:
            return {"status": "ready"}
        return problem_response(
            {
                "type": "https://parley.example/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": "; ".join(found),
                "problems": found,
            },
            headers={"Retry-After": "5"},
        )

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics_text() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
