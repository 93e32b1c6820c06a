"""Grafana dashboards as code, and Grafana's query expansion to prove them without a Grafana."""
