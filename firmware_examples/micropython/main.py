"""livinglab device example for MicroPython (Raspberry Pi Pico W, ESP32) with umqtt.simple.

It shows the protocol of broker/README.md end to end, and it runs: tests/firmware/ runs this file
under CPython against the real broker and ingest service, with a umqtt.simple over paho-mqtt and
the board's hardware (Wi-Fi, NTP, ADC) faked at its boundary. Install umqtt.simple with
`mpremote mip install umqtt.simple`, copy livinglab_wire.py and this file to the board, and set
the constants below (the password comes from `livinglab devices add`); README.md beside it says
how.

Delivery: a batch is sealed with the next seq, and seq and frame are written to flash before the
first send; the frame is sent again, with the same seq, across reconnections and reboots, and
removed only once it is safe. With RECEIPTS (the default) that is when the platform's delivery
receipt names the seq as committed to its database (broker/README.md, "Delivery receipts"): a
broker that dies after its PUBACK loses nothing, because the board sends the batch again when no
receipt comes within RECEIPT_TIMEOUT_S. Without receipts it is the broker's PUBACK. The platform
stores a (device, seq) once, so each reading lands exactly once unless the board loses power
before its batch is sealed.
"""

import json
import os
import ssl
import time

import livinglab_wire as wire
import machine
import network
import ntptime
from umqtt.simple import MQTTClient

try:
    import config  # the board's own settings and secrets, a config.py beside this file
except ImportError:
    config = None


def _setting(name, default):
    return getattr(config, name, default)


WIFI_SSID = _setting("WIFI_SSID", "your-network")
WIFI_PASSWORD = _setting("WIFI_PASSWORD", "your-wifi-password")
BROKER_HOST = _setting("BROKER_HOST", "broker.example.org")
BROKER_PORT = _setting("BROKER_PORT", 8883)  # TLS; 1883 only on a private test network
DEVICE_ID = _setting("DEVICE_ID", "pico-air-01")  # the MQTT username and client id too
DEVICE_PASSWORD = _setting("DEVICE_PASSWORD", "from-livinglab-devices-add")
# The broker's CA certificate, DER encoded, copied to the board; None: no TLS.
CA_FILE = _setting("CA_FILE", "ca.der")
# Survives reboots: a seq is never used for two different batches.
SEQ_FILE = _setting("SEQ_FILE", "seq.txt")
# The sealed batch until its PUBACK: 8 bytes of seq, then the frame.
PENDING_FILE = _setting("PENDING_FILE", "pending.bin")

# Keep each batch until the platform's receipt says it is stored (not only until the PUBACK).
RECEIPTS = _setting("RECEIPTS", True)
RECEIPT_TIMEOUT_S = _setting("RECEIPT_TIMEOUT_S", 30)

SAMPLE_INTERVAL_S = _setting("SAMPLE_INTERVAL_S", 10)
# Readings per batch; the platform may change it through its `config` topic.
BATCH_SIZE = _setting("BATCH_SIZE", 30)
# MicroPython ports count time either from 1970 or from 2000; the wire wants ns since 1970 (UTC).
EPOCH_OFFSET_S = 946_684_800 if time.gmtime(0)[0] == 2000 else 0

status_topic = wire.topic(DEVICE_ID, "status")
config_topic = wire.topic(DEVICE_ID, "config")
events_topic = wire.topic(DEVICE_ID, "events")
telemetry_topic = wire.topic(DEVICE_ID, "telemetry")
receipts_topic = "livinglab/v1/" + DEVICE_ID + "/receipts"
clock_synced = False
config_revision = None
events = []  # events to publish from the main loop (a callback may run inside subscribe())
receipted = []  # receipts that arrived: (from, upto, seqs)


def now_ns():
    return time.time_ns() + EPOCH_OFFSET_S * 1_000_000_000


def next_seq():
    """Reserve the next seq in flash before the batch is sent, so a reboot never reuses it."""
    try:
        with open(SEQ_FILE) as f:
            seq = int(f.read())
    except (OSError, ValueError):
        seq = 0
    with open(SEQ_FILE, "w") as f:
        f.write(str(seq + 1))
    return seq


def seal(readings):
    """Seal a batch: reserve its seq, encode it and keep it in flash until its PUBACK."""
    seq = next_seq()
    frame = wire.encode_binary(seq, readings, synced=clock_synced)
    with open(PENDING_FILE, "wb") as f:
        f.write(seq.to_bytes(8, "little"))
        f.write(frame)
    return (seq, frame)


def load_pending():
    """The batch sealed before a reboot and not yet acknowledged, or None."""
    try:
        with open(PENDING_FILE, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) <= 8:
        return None
    return (int.from_bytes(data[:8], "little"), data[8:])


def acknowledged():
    """The pending batch has its PUBACK: forget it."""
    # MicroPython has no contextlib.suppress.
    try:  # noqa: SIM105
        os.remove(PENDING_FILE)
    except OSError:
        pass


def read_sensor():
    """Replace with a real driver; the RP2040's internal temperature sensor stands in here."""
    adc = machine.ADC(4)
    volts = adc.read_u16() * 3.3 / 65535
    return 27 - (volts - 0.706) / 0.001721


def on_message(topic, message):
    """The broker's messages: a receipt, or the retained desired configuration."""
    if topic == receipts_topic.encode() or topic == receipts_topic:
        try:
            receipt = json.loads(message)
            receipted.append(
                (receipt["from"], receipt["upto"], receipt.get("seqs", []))
            )
        except (ValueError, KeyError, TypeError):
            print("ignored a malformed receipt")
        return
    on_config(topic, message)


def covered(seq):
    """Whether a receipt that arrived names `seq` as committed."""
    return any(low <= seq <= high or seq in seqs for low, high, seqs in receipted)


def on_config(topic, message):
    """Apply the retained desired configuration and report it on `events`."""
    global BATCH_SIZE, config_revision
    try:
        desired = json.loads(message)
        revision = desired["revision"]
        BATCH_SIZE = int(desired.get("batch_size") or BATCH_SIZE)
    except (ValueError, KeyError, TypeError) as exc:
        event = {
            "v": 1,
            "type": "config_rejected",
            "time_ns": now_ns(),
            "message": str(exc),
        }
    else:
        config_revision = revision
        event = {
            "v": 1,
            "type": "config_applied",
            "time_ns": now_ns(),
            "revision": revision,
        }
    events.append(json.dumps(event))


def connect():
    options = {"keepalive": 60}
    if CA_FILE:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        with open(CA_FILE, "rb") as f:
            context.load_verify_locations(cadata=f.read())
        # Older umqtt versions take ssl=True, ssl_params={...} instead of an SSLContext.
        options["ssl"] = context
    c = MQTTClient(
        DEVICE_ID, BROKER_HOST, BROKER_PORT, DEVICE_ID, DEVICE_PASSWORD, **options
    )
    # The broker publishes this retained "offline" status for us if we vanish without DISCONNECT.
    c.set_last_will(status_topic, b'{"v":1,"state":"offline"}', retain=True, qos=1)
    c.set_callback(on_message)
    c.connect(clean_session=True)
    online = {
        "v": 1,
        "state": "online",
        "time_ns": now_ns(),
        "clock_synced": clock_synced,
    }
    if config_revision is not None:
        online["config_revision"] = config_revision
    c.publish(status_topic, json.dumps(online), retain=True, qos=1)
    c.subscribe(config_topic, qos=1)  # the retained config arrives at once
    if RECEIPTS:
        c.subscribe(receipts_topic, qos=1)
    return c


def start_network():
    """Join the Wi-Fi and set the clock by NTP (readings say whether it worked)."""
    global clock_synced
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(WIFI_SSID, WIFI_PASSWORD)
    while not wlan.isconnected():
        time.sleep(1)
    try:
        ntptime.settime()
        clock_synced = True
    except OSError:
        print("NTP failed: readings are sent with clock synced = false")


def run(batches=None):
    """Sample, batch and send for ever; `batches`: return after that many acknowledged batches
    (the tests' way to stop; a board passes nothing)."""
    client = None
    readings = []
    # (seq, frame) sealed but not acknowledged, also one sealed before a reboot.
    pending = load_pending()
    sent = 0
    sent_at = None  # when `pending` last went out, while it waits for its receipt
    while batches is None or sent < batches:
        readings.append((now_ns(), "rp2040.temperature", read_sensor()))
        # Offline for long: keep only the newest readings, RAM is small.
        readings = readings[-10 * BATCH_SIZE :]
        if pending is None and len(readings) >= BATCH_SIZE:
            # The oldest BATCH_SIZE readings; those sampled while a batch waited for its receipt
            # go into the next.
            pending = seal(readings[:BATCH_SIZE])
            readings = readings[BATCH_SIZE:]
        try:
            if client is None:
                client = connect()
            if pending is not None and sent_at is None:
                # With qos=1 umqtt.simple waits for the PUBACK: the broker has the batch.
                client.publish(telemetry_topic, pending[1], qos=1)
                sent_at = time.time()
            client.check_msg()  # a receipt, or a new desired config
            if pending is not None and sent_at is not None:
                if not RECEIPTS or covered(pending[0]):
                    acknowledged()
                    pending, sent_at = None, None
                    receipted.clear()
                    sent += 1
                elif time.time() - sent_at >= RECEIPT_TIMEOUT_S:
                    sent_at = None  # no receipt: the same seq and bytes go out again
            while events:
                client.publish(events_topic, events[0], qos=1)
                events.pop(0)
        except OSError as exc:
            print("broker connection failed:", exc)
            client = None  # connect again on the next pass; `pending` keeps its seq
            sent_at = None  # and is sent again at once
        time.sleep(SAMPLE_INTERVAL_S)
    if client is not None:
        client.disconnect()


if __name__ == "__main__":  # as MicroPython runs main.py at boot
    start_network()
    run()
