"""`python -m livinglab_lab.dashboards`: write dashboards/json/<uid>.json from the code."""

from livinglab_lab.dashboards.build import write

for path in write():
    print(path)  # noqa: T201
