"""The platform's HTTP API and web pages (FastAPI)."""

from livinglab_platform.api.app import create_app

__all__ = ["create_app"]
