"""Taking a lifecycle action on a trial: checked against the rules of lifecycle.py, audited."""

from __future__ import annotations

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_action
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
)
from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.trials.registration import find_trial, get_trial
from livinglab_platform.trials.schemas import State, TransitionRequest, TrialPublic

__all__ = ["transition"]


def transition(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    request: TransitionRequest,
) -> TrialPublic:
    """Move a trial along its lifecycle, if this principal may take the action from its state."""
    trial = find_trial(conn, principal, trial_id)
    require_action(
        principal, request.action, trial_organisation_id=trial.organisation_id
    )
    rule = TRANSITIONS[request.action]
    state = trial.state
    if state not in rule.sources:
        needed = " or ".join(sorted(f"'{s.value}'" for s in rule.sources))
        raise ConflictError(
            f"trial {trial_id} is '{state.value}'; {request.action.value} needs {needed}"
        )
    if rule.reason_required and not request.reason:
        raise InvalidInputError(
            f"a reason is required to {request.action.value} a trial", field="reason"
        )
    if request.outcome is not None and rule.target is not State.completed:
        raise InvalidInputError(
            "an outcome is recorded only when a trial completes", field="outcome"
        )
    details: dict[str, object] = {"from": state.value, "to": rule.target.value}
    if request.outcome is not None:
        details["outcome"] = request.outcome.value
    with conn.transaction():
        conn.execute(
            "UPDATE trials SET state = %s, state_reason = %s, updated_at = now(),"
            " approved_at = CASE WHEN %s THEN coalesce(approved_at, now()) ELSE approved_at END,"
            " outcome = %s"
            " WHERE id = %s",
            (
                rule.target.value,
                request.reason or None,
                rule.target is State.approved,
                request.outcome.value if request.outcome is not None else None,
                trial_id,
            ),
        )
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action=request.action.value,
            reason=request.reason or None,
            details=details,
        )
    return get_trial(conn, principal, trial_id)
