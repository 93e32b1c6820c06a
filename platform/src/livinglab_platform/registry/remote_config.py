"""A device's desired configuration: set, published retained as the platform, compared with applied.

The document is the agent's own schema (`wire.DesiredConfig`, checked by the agent's
`remote.apply_desired`), so the platform refuses exactly what the agent would refuse for its form;
only a sensor name the device lacks is left to the device, which answers `config_rejected`. Each
change merges into the desired document (fields left out keep their desired value), takes the
next revision, is audited and published retained on `livinglab/v1/{device}/config`: a device that
is offline receives it when it subscribes again. Desired against applied comes from the device's
`config_applied` / `config_rejected` events and the `config_revision` of its status.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import ValidationError

from livinglab_edge_agent.wire import DesiredConfig, topic
from livinglab_platform import audit
from livinglab_platform.access import Principal, require_config_writer
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, InvalidInputError
from livinglab_platform.core.publisher import publish_retained
from livinglab_platform.core.settings import BrokerSettings
from livinglab_platform.registry.fleet import get_device
from livinglab_platform.registry.schemas import (
    ConfigChange,
    ConfigState,
    DeviceConfigPublic,
)

__all__ = ["desired_document", "get_config", "set_config"]


def desired_document(
    current: dict[str, Any] | None, change: ConfigChange, *, revision: int
) -> dict[str, Any]:
    """The desired document after `change`, validated as the agent validates it.

    Raises InvalidInputError naming the field (`sensors.air_temperature.interval_s`).
    """
    document: dict[str, Any] = dict(current or {})
    document.pop("v", None)
    for name in ("batch_size", "batch_max_age_s", "heartbeat_interval_s"):
        value = getattr(change, name)
        if value is not None:
            document[name] = value
    sensors = {k: dict(v) for k, v in document.get("sensors", {}).items()}
    for name, schedule in change.sensors.items():
        sensors[name] = {
            **sensors.get(name, {}),
            **schedule.model_dump(exclude_none=True),
        }
    if sensors:
        document["sensors"] = sensors
    document["revision"] = revision
    try:
        desired = DesiredConfig.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidInputError(f"{field}: {error['msg']}", field=field) from exc
    return desired.model_dump(exclude_none=True, exclude_unset=True) | {"v": 1}


def set_config(
    conn: Connection,
    settings: BrokerSettings,
    principal: Principal,
    *,
    device_id: str,
    change: ConfigChange,
) -> DeviceConfigPublic:
    """Merge `change` into the device's desired configuration and publish it, retained."""
    device = get_device(conn, principal, device_id)
    require_config_writer(principal, device.organisation_id)
    if device.revoked:
        raise ConflictError(f"device {device_id!r} is revoked", field="device_id")
    # The device's row is the lock: two changes at once (also the first two, before any
    # device_configs row exists) take revisions one after the other, published in that order.
    conn.execute("SELECT 1 FROM devices WHERE id = %s FOR UPDATE", (device_id,))
    row = conn.execute(
        "SELECT revision, document FROM device_configs WHERE device_id = %s",
        (device_id,),
    ).fetchone()
    previous = row[1] if row else None
    revision = row[0] + 1 if row else 1
    document = desired_document(previous, change, revision=revision)
    conn.execute(
        "INSERT INTO device_configs (device_id, revision, document, set_by)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (device_id) DO UPDATE SET"
        " revision = excluded.revision, document = excluded.document,"
        " set_at = now(), set_by = excluded.set_by",
        (device_id, revision, Jsonb(document), principal.label),
    )
    audit.record(
        conn,
        principal,
        object_type="device",
        object_id=device_id,
        action="configure",
        details={"revision": revision, "change": change.model_dump(exclude_none=True)},
    )
    # The broker last: a refusal before it publishes nothing. When the transaction fails after
    # it, the previous document is published again (or the retained message cleared).
    config_topic = topic(device_id, "config")
    publish_retained(settings, topic=config_topic, payload=_payload(document))
    restore = _payload(previous) if previous else b""
    db.undo_on_rollback(
        conn,
        lambda: publish_retained(settings, topic=config_topic, payload=restore),
    )
    return get_config(conn, principal, device_id)


def _payload(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def get_config(
    conn: Connection, principal: Principal, device_id: str
) -> DeviceConfigPublic:
    """The desired configuration and the device's answer to it."""
    get_device(conn, principal, device_id)
    row = conn.execute(
        """
        SELECT c.revision, c.document, c.set_at, c.set_by, s.config_revision,
               e.type, e.message, e.time
          FROM devices d
          LEFT JOIN device_configs c ON c.device_id = d.id
          LEFT JOIN device_status s ON s.device_id = d.id
          LEFT JOIN LATERAL (
                SELECT type, message, time FROM device_events
                 WHERE device_id = d.id AND revision = c.revision
                   AND type IN ('config_applied', 'config_rejected')
                 ORDER BY time DESC LIMIT 1) e ON true
         WHERE d.id = %s""",
        (device_id,),
    ).fetchone()
    assert row is not None  # get_device found it
    revision, document, set_at, set_by, reported, answer, message, answered_at = row
    if revision is None:
        state = ConfigState.none
    elif answer == "config_rejected":
        state = ConfigState.refused
    elif answer == "config_applied" or (reported is not None and reported >= revision):
        state = ConfigState.applied
    else:
        state = ConfigState.pending
    return DeviceConfigPublic(
        device_id=device_id,
        revision=revision,
        desired=document,
        set_at=set_at,
        set_by=set_by,
        reported_revision=reported,
        state=state,
        message=message,
        answered_at=answered_at,
    )
