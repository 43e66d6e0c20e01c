"""Dependencies the routes take: the one ``LedgerService`` the app was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.service import LedgerService


async def get_service(request: Request) -> LedgerService:
    # async: a plain function dependency would be run in the thread pool on every request.
    service: LedgerService = request.app.state.service
    return service


ServiceDep = Annotated[LedgerService, Depends(get_service)]
