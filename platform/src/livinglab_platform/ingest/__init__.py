"""The ingest service: MQTT telemetry batches into TimescaleDB with binary COPY and rollups."""

from livinglab_platform.ingest.service import IngestService

__all__ = ["IngestService"]
