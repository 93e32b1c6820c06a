"""Benchmarks of the data path: `livinglab bench ingest` and `livinglab bench agent`.

Each benchmark starts its own services under a scratch directory, prints a table and, as the last
line of stdout, one JSON object with its numbers. The modules are imported lazily by the CLI.
"""

__all__: list[str] = []
