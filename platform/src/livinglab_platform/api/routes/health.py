"""Liveness for load balancers and compose health checks: no token needed, no data revealed.

It reads on a connection of its own, never waiting on the requests' pool: busy is not down.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from livinglab_platform.api.deps import HealthConn
from livinglab_platform.core import db

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str = Field(examples=["ok"])
    pending_migrations: list[str] = Field(
        description="Migrations this version ships that the database lacks; run `livinglab db upgrade`"
    )


@router.get("/health")
def read_health(conn: HealthConn) -> HealthPublic:
    """`ok` when the database answers and its schema matches this version, else `degraded`."""
    pending = db.pending(conn)
    return HealthPublic(
        status="degraded" if pending else "ok", pending_migrations=pending
    )
