"""Taking a lifecycle action on a trial: checked against the rules of lifecycle.py, audited."""

from __future__ import annotations

from livinglab_platform import audit
from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, ForbiddenError, RegistryError
from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.trials.registration import _is_owner, _row, get_trial
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
    row = _row(conn, principal, trial_id)
    rule = TRANSITIONS[request.action]
    if not (principal.is_operator or (rule.owner and _is_owner(principal, row))):
        who = (
            "operators" if not rule.owner else "the trial's organisation and operators"
        )
        raise ForbiddenError(f"only {who} may {request.action.value} a trial")
    state = State(row["state"])
    if state not in rule.sources:
        needed = " or ".join(sorted(f"'{s.value}'" for s in rule.sources))
        raise ConflictError(
            f"trial {trial_id} is '{state.value}'; {request.action.value} needs {needed}"
        )
    if rule.reason_required and not request.reason:
        raise RegistryError(
            f"a reason is required to {request.action.value} a trial (reason)"
        )
    with conn.transaction():
        conn.execute(
            "UPDATE trials SET state = %s, state_reason = %s, updated_at = now(),"
            " approved_at = CASE WHEN %s THEN coalesce(approved_at, now()) ELSE approved_at END"
            " WHERE id = %s",
            (
                rule.target.value,
                request.reason or None,
                rule.target is State.approved,
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
            details={"from": state.value, "to": rule.target.value},
        )
    return get_trial(conn, principal, trial_id)
