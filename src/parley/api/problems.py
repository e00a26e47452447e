"""Errors become RFC 9457 problem documents here, and only here."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from parley.errors import ParleyError

PROBLEM = "application/problem+json"
log = logging.getLogger("parley.api")


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM, headers=headers)


def _slug(status: int) -> str:
    return {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(
        status, f"http-{status}"
    )


async def _parley(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParleyError)
    return problem_response(exc.problem())


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body = {
        "type": f"https://parley.example/problems/{_slug(exc.status_code)}",
        "title": str(exc.detail) if exc.status_code != 404 else "Not found",
        "status": exc.status_code,
        "detail": str(exc.detail),
    }
    return problem_response(body, dict(exc.headers) if exc.headers else None)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    body = {
        "type": "https://parley.example/problems/bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": detail,
        "errors": errors,
    }
    return problem_response(body)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    body = {
        "type": "https://parley.example/problems/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "the hub failed to handle this request; nothing was stored",
    }
    return problem_response(body)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _parley)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
