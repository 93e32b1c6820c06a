"""`livinglab-agent run --config agent.toml` and `livinglab-agent check --config agent.toml`."""

from __future__ import annotations

import argparse
import gc
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from livinglab_edge_agent import __version__
from livinglab_edge_agent.agent import Agent
from livinglab_edge_agent.config import AgentConfig, load_config
from livinglab_edge_agent.errors import ConfigError, EdgeError
from livinglab_edge_agent.sensors import create_sensor

__all__ = ["main"]

logger = logging.getLogger("livinglab_edge_agent")

DEFAULT_CONFIG = Path("/etc/livinglab-agent/agent.toml")
EXIT_CONFIG_ERROR = 2
# Readings are tuples freed by reference counting; they never form cycles. With the default
# threshold (700 allocations) the cyclic collector ran dozens of times a second at 3,000
# readings/s and took about a third of the agent's CPU (measured with perf). A larger first
# generation, and the start-up objects (modules, pydantic's schemas) frozen out of every scan,
# leave it the rare cycles it exists for.
GC_THRESHOLD = (50_000, 20, 20)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livinglab-agent",
        description="livinglab edge agent: reads sensors, buffers in SQLite, publishes over MQTT.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in (
        ("run", "run the agent until SIGTERM or Ctrl-C"),
        ("check", "validate the configuration and read each sensor once"),
    ):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--config",
            type=Path,
            default=DEFAULT_CONFIG,
            help=f"the agent's TOML configuration (default {DEFAULT_CONFIG})",
        )
        command.add_argument(
            "--log-level",
            default="INFO",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"),
            help="log level on stderr (default INFO)",
        )
    return parser


def _check(config: AgentConfig, *, path: Path) -> int:
    """Print what the configuration says and one reading of each sensor; 1 if something failed."""
    out = sys.stdout
    failed = False
    mqtt = config.mqtt
    out.write(f"configuration {path} is valid\n")
    out.write(f"device   {config.device_id}\n")
    out.write(
        f"broker   {mqtt.host}:{mqtt.effective_port} as {config.username} "
        f"({'TLS' if mqtt.tls else 'no TLS'})\n"
    )
    try:
        mqtt.resolve_password()
        out.write("password ok\n")
    except ConfigError as exc:
        out.write(f"password FAILED: {exc}\n")
        failed = True
    out.write(f"outbox   {config.outbox.path} (capacity {config.outbox.capacity})\n")
    if not config.sensors:
        out.write("sensors  none configured\n")
    for spec in config.sensors:
        state = f"every {spec.interval_s:g} s" if spec.enabled else "disabled"
        label = f"sensor {spec.name} ({spec.driver}, {state})"
        try:
            source = create_sensor(spec)
            try:
                units = {key: unit for key, _quantity, unit in source.keys}
                readings = source.read(time.time_ns())
            finally:
                source.close()
        except EdgeError as exc:
            out.write(f"{label}: FAILED: {exc}\n")
            # A disabled sensor may well be absent; it does not fail the check.
            failed = failed or spec.enabled
            continue
        values = ", ".join(
            f"{r.key} = {r.value:g} {units.get(r.key, '')}".rstrip()
            if math.isfinite(r.value)
            else f"{r.key} = {r.value}"
            for r in readings
        )
        out.write(f"{label}: {values or 'no reading this time (dropout)'}\n")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `livinglab-agent` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
        if args.command == "check":
            code = _check(config, path=args.config)
        else:
            agent = Agent(config)
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLD)
            agent.run()
            code = 0
    except ConfigError as exc:
        sys.stderr.write(f"livinglab-agent: configuration error: {exc}\n")
        code = EXIT_CONFIG_ERROR
    except EdgeError as exc:
        sys.stderr.write(f"livinglab-agent: {exc}\n")
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
