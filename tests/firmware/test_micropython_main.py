"""firmware_examples/micropython/main.py, run under CPython against the real broker and ingest.

Only the board is faked, at its boundary: `machine` (the ADC), `network` (Wi-Fi), `ntptime` in
this folder, and `umqtt.simple` as a shim over paho-mqtt. The example itself runs unchanged, its
settings given in a `config.py` as on a board. Its readings must land exactly once: across a
reboot (seq kept in a file) and across a PUBACK lost with the connection (the batch sent again
with its seq, also after a reboot in between).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from livinglab_platform.ingest import IngestService
from tests.ingest.helpers import ingest_settings, register_device, scalar, wait_for

HERE = Path(__file__).parent
FIRMWARE = HERE.parents[1] / "firmware_examples" / "micropython"
DEVICE = "pico-air-01"
BATCH = 5
BOARD_MODULES = (
    "main",
    "config",
    "livinglab_wire",
    "machine",
    "network",
    "ntptime",
    "umqtt",
    "umqtt.simple",
)


@pytest.fixture
def ingest(dsn: str, ingest_dsn: str, broker) -> Iterator[IngestService]:
    """The platform's ingest service, running; a test may stop it (stopping twice is harmless)."""
    register_device(dsn, DEVICE, ("rp2040.temperature",))
    service = IngestService(ingest_settings(ingest_dsn, broker))
    service.start()
    try:
        yield service
    finally:
        service.stop(timeout_s=10)


@pytest.fixture
def boot(
    ingest: IngestService,
    broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[], ModuleType]]:
    """`boot()` starts the board afresh: a new `main` module, the same flash (tmp_path)."""
    password = broker.add_device(DEVICE)
    (tmp_path / "config.py").write_text(
        f"BROKER_HOST = {broker.host!r}\nBROKER_PORT = {broker.port}\n"
        f"DEVICE_ID = {DEVICE!r}\nDEVICE_PASSWORD = {password!r}\nCA_FILE = None\n"
        f"SEQ_FILE = {str(tmp_path / 'seq.txt')!r}\n"
        f"PENDING_FILE = {str(tmp_path / 'pending.bin')!r}\n"
        f"SAMPLE_INTERVAL_S = 0\nBATCH_SIZE = {BATCH}\n"
    )
    for path in (FIRMWARE, HERE, tmp_path):
        monkeypatch.syspath_prepend(str(path))

    def start() -> ModuleType:
        for name in BOARD_MODULES:
            sys.modules.pop(name, None)
        main = importlib.import_module("main")
        assert main.__file__ == str(FIRMWARE / "main.py")
        main.start_network()
        return main

    try:
        yield start
    finally:
        for name in BOARD_MODULES:
            sys.modules.pop(name, None)


def _stored(dsn: str) -> tuple[int, int, list[int]]:
    readings = scalar(dsn, "SELECT count(*) FROM readings")
    batches = scalar(dsn, "SELECT count(*) FROM deliveries")
    seqs = scalar(
        dsn,
        "SELECT array_agg(seq ORDER BY seq) FROM deliveries WHERE device_id = %s",
        (DEVICE,),
    )
    return readings, batches, list(seqs or [])


def test_readings_land_once_across_a_reboot(dsn: str, boot) -> None:
    """Failed before: main.py ran its loop at import and could not be run at all; and a seq that
    restarted at 0 after the reboot would have its batches dropped as redeliveries."""
    main = boot()
    main.run(batches=3)
    main = boot()  # the reboot: RAM gone, flash (the seq file) kept
    main.run(batches=2)
    wait_for(lambda: _stored(dsn)[1] == 5)
    assert _stored(dsn) == (5 * BATCH, 5, [0, 1, 2, 3, 4])
    values = scalar(dsn, "SELECT array_agg(DISTINCT round(value)) FROM readings")
    assert values == [
        21
    ]  # the faked ADC's reading, through the example's own conversion


def test_a_lost_puback_resends_the_same_batch(dsn: str, boot) -> None:
    """The broker has the batch but the board never learns it: the board connects again and sends
    the batch with the same seq; the platform stores it once."""
    main = boot()
    main.MQTTClient.lose_puback_on = "/telemetry"
    main.run(batches=2)
    assert main.MQTTClient.pubacks_lost == 1
    wait_for(lambda: _stored(dsn)[1] == 2)
    assert _stored(dsn) == (2 * BATCH, 2, [0, 1])


class _PowerCut(Exception):
    pass


class _Clock:
    """The board's `time`, faked: the power goes at the first sleep after a lost PUBACK."""

    def __init__(self, simple: ModuleType) -> None:
        self.simple = simple

    def sleep(self, seconds: float) -> None:
        if self.simple.MQTTClient.pubacks_lost:
            raise _PowerCut

    # `time` last: inside the class body it names this attribute from then on.
    time_ns = staticmethod(time.time_ns)
    gmtime = staticmethod(time.gmtime)
    time = staticmethod(time.time)


def test_a_lost_puback_resends_the_same_batch_after_a_reboot(
    dsn: str, boot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the power goes before the board could send again: after the reboot it finds
    the batch still sealed in flash and sends it with its seq; the platform stores it once."""
    main = boot()
    main.run(batches=1)
    main.MQTTClient.lose_puback_on = "/telemetry"
    monkeypatch.setattr(main, "time", _Clock(sys.modules["umqtt.simple"]))
    with pytest.raises(_PowerCut):
        main.run()
    assert Path(main.PENDING_FILE).exists()  # sealed, sent, not acknowledged
    wait_for(lambda: _stored(dsn)[1] == 2)  # ... but stored
    main = boot()
    main.run(batches=2)  # the batch sent again, then a new one
    wait_for(lambda: _stored(dsn)[1] == 3)
    assert _stored(dsn) == (3 * BATCH, 3, [0, 1, 2])
    assert not Path(main.PENDING_FILE).exists()


def test_the_platform_config_reaches_the_board(
    dsn: str, boot, broker, tmp_path: Path
) -> None:
    """The platform's retained desired config changes the batch size; the board says so in an
    event and in its status, and the next batches have the new size."""
    from tests.broker.test_isolation import Session

    platform = Session(
        broker, username="livinglab.platform", password=broker.platform_password
    )
    topic = f"livinglab/v1/{DEVICE}/config"
    platform.client.publish(
        topic, b'{"v":1,"revision":7,"batch_size":3}', qos=1, retain=True
    )
    platform.client.disconnect()
    platform.client.loop_stop()
    # A sample every 50 ms: the config (delivered asynchronously) arrives long before the second
    # batch is sealed.
    config = tmp_path / "config.py"
    config.write_text(
        config.read_text().replace("SAMPLE_INTERVAL_S = 0", "SAMPLE_INTERVAL_S = 0.05")
    )
    main = boot()
    main.run(batches=2)
    wait_for(lambda: _stored(dsn)[1] == 2)
    # The first batch may be sealed before the config arrives (it is delivered asynchronously);
    # the second has the new size.
    sizes = scalar(dsn, "SELECT array_agg(readings ORDER BY seq) FROM deliveries")
    assert sizes[1] == 3
    assert sizes[0] in (3, BATCH)
    assert scalar(dsn, "SELECT count(*) FROM readings") == sum(sizes)
    wait_for(lambda: scalar(dsn, "SELECT count(*) FROM device_events") == 1)
    event = scalar(
        dsn,
        "SELECT type || ' ' || revision FROM device_events WHERE device_id = %s",
        (DEVICE,),
    )
    assert event == "config_applied 7"


def test_a_batch_waits_in_flash_for_its_receipt_and_is_sent_again_without_one(
    dsn: str, boot, ingest: IngestService, ingest_dsn: str, broker, tmp_path: Path
) -> None:
    """With the ingest down the broker's PUBACK comes but no receipt: the batch stays in flash
    and goes out again, same seq, every RECEIPT_TIMEOUT_S. Once an ingest runs, its receipt frees
    the batch, stored once. Failed before: the batch left flash at the PUBACK."""
    ingest.stop(timeout_s=10)
    config = tmp_path / "config.py"
    config.write_text(config.read_text() + "RECEIPT_TIMEOUT_S = 0.2\n")
    main = boot()
    sends: list[bytes] = []
    original = main.MQTTClient.publish

    def counting(self, topic, msg, retain=False, qos=0):  # type: ignore[no-untyped-def]
        if str(topic).endswith("/telemetry"):
            sends.append(bytes(msg))
        return original(self, topic, msg, retain=retain, qos=qos)

    main.MQTTClient.publish = counting
    stop_at = time.monotonic() + 1.5
    clock = _Deadline(stop_at)
    main.time = clock
    with pytest.raises(_PowerCut):
        main.run()
    assert Path(
        main.PENDING_FILE
    ).exists()  # acknowledged by the broker, never receipted
    assert len(sends) >= 3
    assert len(set(sends)) == 1  # the same seq and bytes each time

    restarted = IngestService(ingest_settings(ingest_dsn, broker))
    restarted.start()
    try:
        main = boot()
        main.run(batches=1)
        assert not Path(main.PENDING_FILE).exists()
        wait_for(lambda: _stored(dsn)[1] == 1)
        assert _stored(dsn) == (BATCH, 1, [0])
    finally:
        restarted.stop(timeout_s=10)


class _Deadline:
    """The board's `time`, faked: the power goes at the first sleep after `stop_at`."""

    def __init__(self, stop_at: float) -> None:
        self.stop_at = stop_at

    def sleep(self, seconds: float) -> None:
        if time.monotonic() >= self.stop_at:
            raise _PowerCut
        time.sleep(0.01)

    # `time` last: inside the class body it names this attribute from then on.
    time_ns = staticmethod(time.time_ns)
    gmtime = staticmethod(time.gmtime)
    time = staticmethod(time.time)
