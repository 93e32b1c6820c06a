"""The demo's simulated pilots: the device at each site, its owner, and its edge agent's config.

seed.py describes the sites and the organisations. Each pilot's agent is the real
`livinglab_edge_agent` with simulated sensors, run from a folder of its own in the lab directory
that holds its configuration, its broker password and its outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HEARTBEAT_S", "PILOTS", "Pilot", "write_agent_config"]

HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class Pilot:
    """A simulated pilot: the device installed at a site (seed.py describes the sites) and its owner."""

    site_id: str
    device_id: str
    organisation_id: str
    kind: str
    sensors: tuple[tuple[str, str, str], ...]

    def directory(self, lab_dir: Path) -> Path:
        """Its agent's folder: configuration, broker password and outbox."""
        return lab_dir / "agents" / self.device_id


PILOTS = (
    Pilot(
        "tp-ljubljana", "tp-air-01", "zrak-io", "air",
        (("air_temperature", "air_temperature", "degC"), ("relative_humidity", "relative_humidity", "%"), ("air_pressure", "air_pressure", "hPa")),
    ),
    Pilot(
        "ul-fe", "fe-pm-01", "ul-fe", "particulate",
        (("pm2_5", "pm2_5", "ug/m3"), ("pm10", "pm10", "ug/m3")),
    ),
    Pilot(
        "presernov-trg", "center-noise-01", "tiha-soseska", "noise",
        (("noise_level", "noise_level", "dBA"),),
    ),
)  # fmt: skip


def write_agent_config(pilot: Pilot, *, lab_dir: Path, host: str, port: int) -> None:
    """The pilot's `agent.toml`: the lab's broker, its own outbox, a simulated sensor at 10 Hz."""
    directory = pilot.directory(lab_dir)
    config = f"""# Written by `livinglab demo`: a simulated {pilot.kind} station at site {pilot.site_id}.
device_id = "{pilot.device_id}"
heartbeat_interval_s = {HEARTBEAT_S}

[mqtt]
host = "{host}"
tls = false
port = {port}
password_file = "{directory / "password"}"

[outbox]
path = "{directory / "outbox.db"}"

[uplink]
batch_size = 200
batch_max_age_s = 1.0

[[sensors]]
name = "{pilot.kind}"
driver = "simulated"
interval_s = 0.1
options = {{ kind = "{pilot.kind}", dropout = 0.005 }}
"""
    (directory / "agent.toml").write_text(config)
