"""Grafana: pushing the data source, the folder and the dashboards to an existing server."""

from livinglab_platform.grafana.push import PushReport, push

__all__ = ["PushReport", "push"]
