"""`livinglab chaos`: run every scenario `runs` times, check every reading, print a table and JSON.

Broker SIGKILL: Mosquitto writes what it holds to disk every `autosave_interval`, and an agent
without end-to-end receipts forgets a batch at the broker's PUBACK, so a broker killed in between
loses readings. `receipts_option()` says whether this agent has receipts (issue 9); the result
marks the broker's losses as `expected` while it has not.

Stopping it: SIGINT (Ctrl-C), SIGTERM and SIGHUP all stop it in order (demo/stopping.py): the run
in progress is cut short and not counted, the agents, the ingest, the broker and the database
stop, and the runs finished are reported (table, JSON line and `result.json` in the lab folder)
with `interrupted` naming the signal; the command then exits 128 + the signal's number, as a
shell reports a process the signal ended. Should the matrix itself die (SIGKILL), its watchdog
stops what it had started (watchdog.py); every child is recorded for it from its start on
(children.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from livinglab_edge_agent.config import AgentConfig
from livinglab_lab.chaos.check import Tally, check_agents, stored_count
from livinglab_lab.chaos.children import Children
from livinglab_lab.chaos.journal import read_journal
from livinglab_lab.chaos.lab import ChaosAgent, ChaosLab
from livinglab_lab.chaos.scenarios import SCENARIOS, Fault, Profile, Scenario
from livinglab_lab.demo.stopping import Stopped, held_stop, stop_signals
from livinglab_lab.errors import ServiceError
from livinglab_lab.watchdog import TAG, PidRecord, start_watchdog, tag_children

__all__ = ["exit_status", "print_json", "receipts_option", "run_chaos"]

MARKER = "livinglab-chaos"
RESULT_FILE = "result.json"
DRAIN_TIMEOUT_S = 120.0
# Longer than the ingest's longest wait between two tries of a group (10 s, ingest/service.py)
# plus PostgreSQL's crash recovery: a count unchanged for this long has stopped growing.
SETTLE_S = 15.0
POLL_S = 0.25


def receipts_option() -> str | None:
    """The agent configuration's receipts option (`uplink.receipts`...), None if it has none."""
    models: list[tuple[str, Any]] = [("", AgentConfig)]
    while models:
        prefix, model = models.pop()
        for name, info in model.model_fields.items():
            if "receipt" in name:
                return f"{prefix}{name}"
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                models.append((f"{prefix}{name}.", annotation))
    return None


def _prepare(lab_dir: Path) -> Path:
    """An empty `lab_dir`, emptied only if an earlier matrix made it (never a demo's lab)."""
    if lab_dir.exists() and any(lab_dir.iterdir()):
        if not (lab_dir / MARKER).exists():
            raise ServiceError(
                f"{lab_dir} is not empty and no crash matrix made it; choose another --lab-dir"
            )
        data = lab_dir / "mqtt-data"
        if data.is_mount():  # left mounted by a matrix that was killed
            subprocess.run(["umount", "-l", str(data)], check=False)
        shutil.rmtree(lab_dir)
    lab_dir.mkdir(parents=True, exist_ok=True)
    (lab_dir / MARKER).write_text("made by livinglab chaos; emptied by its next run\n")
    return lab_dir.resolve()


def _drain(lab: ChaosLab, agents: list[ChaosAgent], *, expected: int) -> None:
    """Let the run settle: sensors quiet, outboxes empty, the database no longer growing."""
    for agent in agents:
        agent.quiet()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(agent.outbox()[0] == 0 for agent in agents):
            break
        time.sleep(POLL_S)
    ids = [agent.device_id for agent in agents]
    last, since = -1, time.monotonic()
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            count = stored_count(conn, ids)
            if count >= expected:
                break
            if count != last:
                last, since = count, time.monotonic()
            elif time.monotonic() - since > SETTLE_S:
                break
            time.sleep(POLL_S)


def _run_once(
    lab: ChaosLab,
    scenario: Scenario,
    *,
    index: int,
    rng: random.Random,
    profile: Profile,
) -> tuple[Tally, Fault]:
    agents = [
        lab.add_agent(f"chaos-{index}-{scenario.name}-{n}", options=scenario.options)
        for n in range(profile.agents)
    ]
    fault = Fault(lab=lab, agents=agents, rng=rng, profile=profile, kills=Counter())
    try:
        for agent in agents:
            agent.start()
        # The run's seconds are seconds of readings flowing, not of Python starting up.
        for agent in agents:
            agent.wait_reading()
        fault.started = time.monotonic()
        scenario.fault(fault)
        fault.at(1.0)
        produced = sum(len(list(read_journal(a.directory))) for a in agents)
        purged = sum(a.outbox()[1] for a in agents)
        _drain(lab, agents, expected=produced - purged)
    finally:
        for agent in agents:
            agent.stop()
    with psycopg.connect(lab.dsn) as conn:
        return check_agents(conn, agents), fault


@dataclasses.dataclass
class _Progress:
    """What the runs finished so far found: all there is to report if a signal stops the rest."""

    results: dict[str, Tally]
    kills: Counter[str] = dataclasses.field(default_factory=Counter)
    scenario_kills: Counter[str] = dataclasses.field(default_factory=Counter)
    scenario_runs: Counter[str] = dataclasses.field(default_factory=Counter)
    runs: int = 0


def run_chaos(
    *,
    lab_dir: Path,
    runs: int,
    seed: int | None,
    profile: Profile,
    only: list[str] | None,
    console: Console,
) -> dict[str, Any]:
    """Run the matrix; return (and print last) its JSON result, `interrupted` by a signal or not."""
    # Before any child starts: from here on every stop signal runs the ordered stop.
    with stop_signals():
        seed = random.SystemRandom().randrange(2**32) if seed is None else seed
        console.print(
            f"[bold]livinglab chaos[/]: seed {seed}, {runs} run(s) per scenario"
        )
        receipts = receipts_option()
        console.print(
            "  agent receipts:"
            f" {receipts or 'none (broker SIGKILL may lose readings, issue 9)'}"
        )
        scenarios = [s for s in SCENARIOS if only is None or s.name in only]
        directory = _prepare(lab_dir)
        progress = _Progress({s.name: Tally() for s in scenarios})
        interrupted = _run_all(
            directory,
            scenarios=scenarios,
            progress=progress,
            runs=runs,
            rng=random.Random(seed),
            profile=profile,
            console=console,
        )
        result = _report(
            console,
            scenarios=scenarios,
            progress=progress,
            seed=seed,
            receipts=receipts,
            interrupted=interrupted,
        )
        (directory / RESULT_FILE).write_text(json.dumps(result) + "\n")
        return result


def _run_all(
    directory: Path,
    *,
    scenarios: list[Scenario],
    progress: _Progress,
    runs: int,
    rng: random.Random,
    profile: Profile,
    console: Console,
) -> str | None:
    """Start the lab, run every scenario `runs` times, stop the lab; the stop signal's name if
    one cut the matrix short."""
    record = PidRecord(directory / "pids.json")
    watchdog = start_watchdog(record.path)
    # Children started from here on carry the record's tag: a SIGKILL between a start and its
    # record leaves nothing the watchdog cannot find.
    tag_children(record.path)
    interrupted = None
    lab = None
    try:
        lab = ChaosLab.start(directory, children=Children(record))
        console.print(
            f"  PostgreSQL :{lab.postgres.port} (fsync on), Mosquitto :{lab.mosquitto.port},"
            f" proxy :{lab.proxy.port}, ingest; {profile.agents} agent(s) per run,"
            f" {profile.seconds:g} s each"
        )
        for round_ in range(runs):
            for scenario in scenarios:
                index = progress.runs + 1
                tally, fault = _run_once(
                    lab, scenario, index=index, rng=rng, profile=profile
                )
                progress.results[scenario.name].add(tally)
                progress.kills += fault.kills
                progress.scenario_kills[scenario.name] += sum(fault.kills.values())
                progress.scenario_runs[scenario.name] += 1
                progress.runs = index
                console.print(
                    f"  run {round_ + 1}/{runs} {scenario.name}: {tally.readings:,} readings,"
                    f" lost {tally.lost}, duplicated {tally.duplicated}, wrong {tally.wrong_values}"
                    + "".join(f"; {note}" for note in fault.notes)
                )
    except Stopped as stop:
        interrupted = signal.Signals(stop.signum).name
        console.print(
            f"\n  interrupted by {interrupted} after {progress.runs} finished run(s): stopping"
            " agents, ingest, broker and database; the run in progress is not counted"
        )
    finally:
        late = _stop_lab(lab, watchdog)
    interrupted = interrupted or late
    if lab is not None:
        console.print(
            f"  ingest started again by its supervisor {lab.restarts} time(s) (it exits when"
            " the database is down as it starts)"
        )
    return interrupted


def _stop_lab(lab: ChaosLab | None, watchdog: subprocess.Popen[bytes]) -> str | None:
    """Stop the lab, then let the watchdog stop what the record still names (a stop signal while
    the lab started); the name of a first stop signal that came meanwhile, which waited."""
    try:
        # After a first signal the others are ignored; the first may also come now, as the
        # matrix ends: either way this stop is never cut short.
        with held_stop():
            if lab is not None:
                lab.stop()
            assert watchdog.stdin is not None
            watchdog.stdin.close()
            watchdog.wait(timeout=120)
            os.environ.pop(TAG, None)
    except Stopped as stop:
        return signal.Signals(stop.signum).name
    return None


def exit_status(result: dict[str, Any]) -> int:
    """128 + the signal that interrupted the matrix; else 1 if anything was lost, duplicated or
    wrong, 0 if not."""
    if result.get("interrupted"):
        return 128 + signal.Signals[result["interrupted"]].value
    return 1 if result["lost"] or result["duplicated"] or result["wrong_values"] else 0


def _report(
    console: Console,
    *,
    scenarios: list[Scenario],
    progress: _Progress,
    seed: int,
    receipts: str | None,
    interrupted: str | None,
) -> dict[str, Any]:
    results, kills = progress.results, progress.kills
    title = f"crash matrix, seed {seed}"
    if interrupted:
        title += f", interrupted by {interrupted} after {progress.runs} run(s)"
    table = Table(title=title)
    for column in ("scenario", "runs", "kills", "readings", "lost", "dup", "wrong",
                   "in flight", "purged", "quarantined"):  # fmt: skip
        # The scenario's name whole: in 80 columns the numbers' headers fold instead.
        table.add_column(
            column,
            justify="left" if column == "scenario" else "right",
            no_wrap=column == "scenario",
        )
    total = Tally()
    for scenario in scenarios:
        tally = results[scenario.name]
        total.add(tally)
        table.add_row(
            scenario.name,
            str(progress.scenario_runs[scenario.name]),
            str(progress.scenario_kills[scenario.name]),
            f"{tally.readings:,}",
            str(tally.lost),
            str(tally.duplicated),
            str(tally.wrong_values),
            str(tally.in_flight_at_kill),
            str(tally.purged),
            str(tally.quarantined),
        )
    # Into a file or a pipe (`make chaos | tee`), whole rows rather than rich's 80 columns.
    wide = console if console.is_terminal else Console(file=console.file, width=132)
    wide.print(table)
    for scenario in scenarios:
        console.print(f"  {scenario.name}: {scenario.describe}")
    console.print(
        "  dup: duplicated; wrong: wrong values;"
        " in flight at kill: read by a sensor, not yet in the outbox when the agent died (at most"
        " one read per sensor per kill); purged: dropped by a full outbox and counted by the agent;"
        " quarantined: refused by the ingest with a reason, kept in `quarantine`"
    )
    result = {
        "runs": progress.runs,
        "interrupted": interrupted,
        "kills": {
            name: kills.get(name, 0)
            for name in ("agent", "broker", "ingest", "postgres")
        },
        "readings": total.readings,
        "lost": total.lost,
        "duplicated": total.duplicated,
        "wrong_values": total.wrong_values,
        "seed": seed,
        "receipts": receipts is not None,
        "scenarios": {name: dataclasses.asdict(t) for name, t in results.items()},
    }
    return result


def print_json(result: dict[str, Any]) -> None:
    """The machine-readable last line."""
    print(json.dumps(result))  # noqa: T201
