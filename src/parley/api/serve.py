"""Run the hub behind the HTTP API: the one place that starts uvicorn."""

from __future__ import annotations

from parley.config import Settings


def serve(settings: Settings, host: str, port: int) -> None:
    from parley.hub.core import Hub

    # The hub (and its start-up check of the stored log) comes up before the server, so a
    # log that fails the check ends the command with its message, before any port is open
    # (and before the slow imports of the whole API).
    hub = Hub(settings)
    try:
        import uvicorn

        from parley.api.app import create_app

        uvicorn.run(
            create_app(settings, hub), host=host, port=port, log_level="info", access_log=False
        )
    finally:
        hub.close()
