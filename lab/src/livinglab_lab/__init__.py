"""livinglab lab: development tooling that production servers do not install."""

__version__ = "0.1.0"
