"""The platform's MQTT clients: how they are built, and the broker topics read beyond the contract.

One definition of how a client is built (MQTT v5, credentials, TLS with CERT_REQUIRED) serves the
agent and the platform: `livinglab_edge_agent.mqtt`, re-exported here so the ingest consumer and
the broker admin import their MQTT pieces from one place in their own package.
"""

from __future__ import annotations

from livinglab_edge_agent.mqtt import create_client, session_properties

__all__ = ["DROPPED_TOPIC", "create_client", "session_properties"]

# Mosquitto's count of messages it dropped (queue limits, over max_queued_bytes): the ingest
# subscribes to record it in ingest_stats, and dynamic security must let the ingest role read it.
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
