"""The web pages: server-rendered HTML in Slovenian and English, on top of the domain modules."""

from pathlib import Path

from livinglab_platform.web.pages import router

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"
