"""`python -m livinglab_platform.ingest`: run the ingest service until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import sys

from pydantic import ValidationError

from livinglab_platform.core.errors import ConfigurationError
from livinglab_platform.core.settings import IngestSettings
from livinglab_platform.ingest.service import IngestService

__all__ = ["main"]

logger = logging.getLogger("livinglab_platform.ingest")


def main() -> None:
    """Configure logging, read IngestSettings from LIVINGLAB_* and run; exit 0 after a clean stop.

    Exits non-zero with a one-line message when the configuration is wrong: invalid settings,
    database or TimescaleDB missing, broker login or subscriptions refused.
    """
    logging.basicConfig(
        level=os.environ.get("LIVINGLAB_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = IngestSettings()
    except ValidationError as exc:
        sys.exit(f"livinglab ingest: invalid settings: {exc}")
    try:
        IngestService(settings).run()
    except ConfigurationError as exc:
        sys.exit(f"livinglab ingest: {exc}")


if __name__ == "__main__":
    main()
