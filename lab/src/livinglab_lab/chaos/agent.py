"""`python -m livinglab_lab.chaos.agent CONFIG JOURNAL_DIR`: the real edge agent, journaled.

The same `Agent` that `livinglab-agent run` starts, from the same `agent.toml`, with each
configured sensor wrapped so that it journals what it produces (journal.py), and with a wall
clock that the crash matrix can jump (journal.CLOCK_FILE). Outbox, sealing, purging, publishing
and the signal handling are the agent's own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from livinglab_edge_agent.agent import Agent
from livinglab_edge_agent.config import load_config
from livinglab_edge_agent.sensors import create_sensor
from livinglab_lab.chaos.journal import JournaledSensor, shift_clock


def main() -> None:
    config_path, directory = Path(sys.argv[1]), Path(sys.argv[2])
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    shift_clock(directory)
    config = load_config(config_path)
    sensors = [
        JournaledSensor(create_sensor(spec), directory=directory)
        for spec in config.sensors
    ]
    Agent(config, sensors=sensors).run()


if __name__ == "__main__":
    main()
