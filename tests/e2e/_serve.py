"""``tipledger`` with the reporter pages mounted, for the browser tests.

Runs the real CLI (``python -m tests.e2e._serve serve --port P``). If ``api.main.create_app``
already mounts the pages (``/web-config.json`` is routed), this changes nothing; until then it
mounts them exactly as create_app is meant to, so the tests drive the real service either way.
"""

from __future__ import annotations

from typing import Any

from api import main as api_main
from api.routes.pages import mount_pages

_create_app = api_main.create_app


def create_app(service: Any, **kwargs: Any) -> Any:
    app = _create_app(service, **kwargs)
    if not any(getattr(route, "path", None) == "/web-config.json" for route in app.routes):
        mount_pages(
            app,
            chain_rpc_url=service.settings.rpc_url or service.deployment.rpc_url,
            chain_id=service.chain_id,
            contract=service.contract_address,
            max_body_bytes=service.settings.max_body_bytes,
        )
    return app


api_main.create_app = create_app

if __name__ == "__main__":
    from ledger.cli import main

    main()
