"""`livinglab demo`: a whole living lab on one machine, under `.lab/`.

run.py starts and stops it, pilots.py is its simulated pilot sites, tokens.py the demo people's
tokens file, status.py the live status table and the summary of a run, logs.py where its log records
go (a file under `.lab/logs/`, not the screen), stopping.py what may stop it and how it still stops
in order.
"""

from livinglab_lab.demo.pilots import PILOTS
from livinglab_lab.demo.run import run_demo
from livinglab_lab.demo.status import DemoSummary

__all__ = ["PILOTS", "DemoSummary", "run_demo"]
