"""The watchdog's pid record stays true while threads change it at once: the crash matrix's
supervisor starts the ingest again while the main thread starts and stops agents."""

from __future__ import annotations

import os
import threading

from livinglab_lab.watchdog import PidRecord, read_record

CHANGES = 300


def test_the_record_survives_concurrent_changes(tmp_path):
    # Failed before: two writers shared one temporary file, so one's rename found it gone
    # (FileNotFoundError in the supervisor) and the other could write an older snapshot.
    record = PidRecord(tmp_path / "pids.json")
    record.add("ingest", os.getpid(), stage=1)
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        try:
            for _ in range(CHANGES):
                record.add(name, os.getpid(), stage=0)
                record.remove(name)
        except BaseException as error:  # reported by the test, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(f"agent-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [service.name for service in read_record(record.path)] == ["ingest"]
