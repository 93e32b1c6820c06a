"""A trial's lifecycle: which action leads from which states to which, and who may take it."""

from __future__ import annotations

from dataclasses import dataclass

from livinglab_platform.trials.schemas import Action, State

__all__ = ["OPEN_STATES", "TRANSITIONS", "Transition"]

# Withdrawal is possible from every state that is not an outcome.
OPEN_STATES = frozenset(
    {
        State.draft,
        State.submitted,
        State.approved,
        State.deploying,
        State.running,
        State.evaluating,
    }
)


@dataclass(frozen=True)
class Transition:
    """An action: the states it starts from, where it leads, and who may take it.

    `owner` means a partner of the trial's own organisation; operators may take every action.
    """

    sources: frozenset[State]
    target: State
    owner: bool
    reason_required: bool = False


TRANSITIONS: dict[Action, Transition] = {
    Action.submit: Transition(frozenset({State.draft}), State.submitted, owner=True),
    Action.approve: Transition(
        frozenset({State.submitted}), State.approved, owner=False
    ),
    Action.reject: Transition(
        frozenset({State.submitted}), State.rejected, owner=False, reason_required=True
    ),
    Action.deploy: Transition(frozenset({State.approved}), State.deploying, owner=True),
    Action.start: Transition(frozenset({State.deploying}), State.running, owner=True),
    Action.evaluate: Transition(
        frozenset({State.running}), State.evaluating, owner=True
    ),
    Action.complete: Transition(
        frozenset({State.evaluating}), State.completed, owner=False
    ),
    Action.withdraw: Transition(
        OPEN_STATES, State.withdrawn, owner=True, reason_required=True
    ),
}
