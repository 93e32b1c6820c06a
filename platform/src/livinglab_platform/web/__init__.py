"""The web pages: server-rendered HTML in Slovenian and English, on top of the domain modules."""

from pathlib import Path

from livinglab_platform.web.pages import router
from livinglab_platform.web.routing import is_page, page_error

__all__ = ["STATIC_DIR", "is_page", "page_error", "router"]

STATIC_DIR = Path(__file__).parent / "static"
