"""The crash matrix's scenarios: what goes wrong, and when, while the readings flow.

Each scenario gets fresh devices (so a run's readings are told apart by device), runs for the
profile's seconds while its fault strikes at seeded random moments, and then lets the run drain:
the sensors fall quiet, the outboxes empty, the database catches up. Kills are SIGKILL; each
killed component is started again at once on the same port and data.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from livinglab_lab.chaos.lab import AgentOptions, ChaosAgent, ChaosLab

__all__ = ["SCENARIOS", "Fault", "Profile", "Scenario"]

HOUR_S = 3600.0


@dataclass(frozen=True)
class Profile:
    """How long each run lasts: `seconds` of flow, `partition_s` of a network partition."""

    seconds: float = 10.0
    partition_s: float = 120.0
    agents: int = 2


@dataclass
class Fault:
    """A run in progress: its lab, agents, random source and the kills it made."""

    lab: ChaosLab
    agents: list[ChaosAgent]
    rng: random.Random
    profile: Profile
    kills: Counter[str]
    started: float = 0.0
    notes: list[str] = field(default_factory=list)

    def at(self, fraction: float) -> None:
        """Sleep until `fraction` of the run's seconds have passed."""
        delay = self.started + fraction * self.profile.seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def moment(self, low: float = 0.2, high: float = 0.8) -> float:
        return self.rng.uniform(low, high)

    def kill_agent(self) -> None:
        victim = self.rng.choice(self.agents)
        # Not before it samples: a kill during its start-up would test Python's start-up only.
        victim.wait_reading()
        victim.kill()
        self.kills["agent"] += 1
        victim.start()


@dataclass(frozen=True)
class Scenario:
    """A named fault; `component` names what it kills, or the condition it creates."""

    name: str
    component: str
    describe: str
    fault: Callable[[Fault], None]
    options: AgentOptions = field(default_factory=AgentOptions)


def _agent(run: Fault) -> None:
    run.at(run.moment())
    run.kill_agent()


def _broker(run: Fault) -> None:
    run.at(run.moment())
    run.lab.kill_broker()
    run.kills["broker"] += 1


def _broker_backlog(run: Fault) -> None:
    # The ingest away, so the broker holds what it acknowledged in its queue (in memory until
    # its next autosave) when it dies: the window end-to-end receipts close (issue 9).
    run.at(0.1)
    run.lab.kill_ingest(restart=False)
    run.kills["ingest"] += 1
    run.at(run.moment(0.4, 0.7))
    run.lab.kill_broker()
    run.kills["broker"] += 1
    run.at(0.8)
    run.lab.start_ingest()


def _ingest(run: Fault) -> None:
    run.at(run.moment())
    run.lab.kill_ingest()
    run.kills["ingest"] += 1


def _postgres(run: Fault) -> None:
    run.at(run.moment())
    run.lab.kill_postgres()
    run.kills["postgres"] += 1


def _postgres_large(run: Fault) -> None:
    # The ingest away while a backlog gathers in the broker, then back: it stores the backlog
    # in large transactions, and PostgreSQL dies in the middle of one.
    run.at(0.1)
    run.lab.kill_ingest(restart=False)
    run.kills["ingest"] += 1
    run.at(0.6)
    run.lab.start_ingest()
    time.sleep(run.rng.uniform(0.0, 0.5))
    caught = run.lab.wait_for_transaction(timeout_s=0.4 * run.profile.seconds)
    run.lab.kill_postgres()
    run.notes.append(
        "killed inside a transaction" if caught else "no transaction seen at the kill"
    )
    run.kills["postgres"] += 1


def _agent_sealing(run: Fault) -> None:
    # Tiny batches sealed every 50 ms: a kill at a random moment often lands inside a seal.
    for fraction in sorted(run.moment(0.1, 0.9) for _ in range(3)):
        run.at(fraction)
        run.kill_agent()


def _agent_purging(run: Fault) -> None:
    # Cut off from the broker with a tiny outbox, the agent purges at every read; kill it then.
    run.at(0.1)
    run.lab.proxy.partition()
    try:
        for fraction in sorted(run.moment(0.2, 0.7) for _ in range(3)):
            run.at(fraction)
            # Over capacity, every read purges: wait for this incarnation's first purge.
            for agent in run.agents:
                agent.wait_purge()
            run.kill_agent()
        run.at(0.8)
    finally:
        run.lab.proxy.heal()


def _clock(offset_s: float) -> Callable[[Fault], None]:
    def jump(run: Fault) -> None:
        run.at(run.moment())
        for agent in run.agents:
            agent.jump_clock(offset_s)

    return jump


def _broker_disk_full(run: Fault) -> None:
    # Mosquitto keeps its state in memory and writes it at autosave and at its stop: on a full
    # disk that write fails, and what it held is gone after a restart.
    run.at(0.1)
    run.notes.append(run.lab.fill_broker_disk())
    try:
        run.at(run.moment(0.3, 0.6))
        run.lab.restart_broker()
        run.at(0.9)
    finally:
        run.lab.free_broker_disk()


def _partition(run: Fault) -> None:
    run.at(run.moment(0.1, 0.4))
    run.lab.proxy.partition()
    try:
        time.sleep(run.profile.partition_s)
    finally:
        run.lab.proxy.heal()


SCENARIOS = (
    Scenario("agent", "agent", "agent SIGKILL", _agent),
    Scenario("broker", "broker", "broker SIGKILL", _broker),
    Scenario(
        "broker-backlog",
        "broker",
        "broker SIGKILL while it holds a backlog for the ingest (ingest down)",
        _broker_backlog,
    ),
    Scenario("ingest", "ingest", "ingest SIGKILL", _ingest),
    Scenario("postgres", "postgres", "PostgreSQL SIGKILL", _postgres),
    Scenario(
        "postgres-large-transaction",
        "postgres",
        "PostgreSQL SIGKILL while the ingest stores a backlog",
        _postgres_large,
    ),
    Scenario(
        "agent-sealing",
        "agent",
        "agent SIGKILL x3 while sealing (batches of 3, every 50 ms)",
        _agent_sealing,
        AgentOptions(batch_size=3, batch_max_age_s=0.05),
    ),
    Scenario(
        "agent-purging",
        "agent",
        "agent SIGKILL x3 while purging (outbox of 30, partitioned)",
        _agent_purging,
        AgentOptions(capacity=30),
    ),
    Scenario(
        "broker-disk-full",
        "disk",
        "broker's data folder on a full disk, broker restarted (SIGTERM)",
        _broker_disk_full,
    ),
    Scenario("clock-back", "clock", "agent clock jumps back 1 h", _clock(-HOUR_S)),
    Scenario("clock-forward", "clock", "agent clock jumps forward 1 h", _clock(HOUR_S)),
    Scenario("partition", "network", "agent-broker partition", _partition),
)
