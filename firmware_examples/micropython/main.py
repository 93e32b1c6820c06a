"""livinglab device example for MicroPython (Raspberry Pi Pico W, ESP32) with umqtt.simple.

A sketch to adapt, not a tested product: it shows the protocol of broker/README.md end to end.
Install umqtt.simple with `mpremote mip install umqtt.simple`, copy livinglab_wire.py and this file
to the board, and set the constants below (the password comes from `livinglab devices add`).
"""

import json
import ssl
import time

import livinglab_wire as wire
import machine
import network
import ntptime
from umqtt.simple import MQTTClient

WIFI_SSID = "your-network"
WIFI_PASSWORD = "your-wifi-password"
BROKER_HOST = "broker.example.org"
BROKER_PORT = 8883  # TLS; 1883 only on a private test network
DEVICE_ID = "pico-air-01"  # the MQTT username and client id too
DEVICE_PASSWORD = "from-livinglab-devices-add"
CA_FILE = "ca.der"  # the broker's CA certificate, DER encoded, copied to the board
SEQ_FILE = "seq.txt"  # survives reboots: a seq is never used for two different batches

SAMPLE_INTERVAL_S = 10
BATCH_SIZE = 30  # readings per batch; the platform may change it through `config`
# MicroPython ports count time either from 1970 or from 2000; the wire wants ns since 1970 (UTC).
EPOCH_OFFSET_S = 946_684_800 if time.gmtime(0)[0] == 2000 else 0

status_topic = wire.topic(DEVICE_ID, "status")
config_topic = wire.topic(DEVICE_ID, "config")
events_topic = wire.topic(DEVICE_ID, "events")
telemetry_topic = wire.topic(DEVICE_ID, "telemetry")
clock_synced = False
config_revision = None
events = []  # events to publish from the main loop (a callback may run inside subscribe())


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


def read_sensor():
    """Replace with a real driver; the RP2040's internal temperature sensor stands in here."""
    adc = machine.ADC(4)
    volts = adc.read_u16() * 3.3 / 65535
    return 27 - (volts - 0.706) / 0.001721


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
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    with open(CA_FILE, "rb") as f:
        context.load_verify_locations(cadata=f.read())
    # Older umqtt versions take ssl=True, ssl_params={...} instead of an SSLContext.
    c = MQTTClient(
        DEVICE_ID,
        BROKER_HOST,
        BROKER_PORT,
        DEVICE_ID,
        DEVICE_PASSWORD,
        keepalive=60,
        ssl=context,
    )
    # The broker publishes this retained "offline" status for us if we vanish without DISCONNECT.
    c.set_last_will(status_topic, b'{"v":1,"state":"offline"}', retain=True, qos=1)
    c.set_callback(on_config)
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
    return c


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

client = None
readings = []
pending = None  # (seq, frame) sent but not yet acknowledged: re-sent with the same seq
while True:
    readings.append((now_ns(), "rp2040.temperature", read_sensor()))
    # Offline for long: keep only the newest readings, RAM is small.
    readings = readings[-10 * BATCH_SIZE :]
    if pending is None and len(readings) >= BATCH_SIZE:
        seq = next_seq()
        pending = (seq, wire.encode_binary(seq, readings, synced=clock_synced))
        readings = []
    try:
        if client is None:
            client = connect()
        if pending is not None:
            # With qos=1 umqtt.simple waits for the PUBACK; only then is the batch delivered.
            client.publish(telemetry_topic, pending[1], qos=1)
            pending = None
        while events:
            client.publish(events_topic, events[0], qos=1)
            events.pop(0)
        client.check_msg()  # delivers a new desired config to on_config
    except OSError as exc:
        print("broker connection failed:", exc)
        client = None  # connect again on the next pass; `pending` keeps its seq
    time.sleep(SAMPLE_INTERVAL_S)
