"""Sensor drivers against fakes of the hardware boundary only: an I2C register map, serial ports, sysfs."""

from __future__ import annotations

import errno
import math
import os
import struct
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pydantic
import pytest
import serial

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.sensors import DRIVERS, SensorSpec, create_sensor
from livinglab_edge_agent.sensors.bme280 import Bme280, Calibration
from livinglab_edge_agent.sensors.sds011 import Sds011
from livinglab_edge_agent.sensors.simulated import Simulated

# -- BME280 -------------------------------------------------------------------------------------

# The datasheet's worked example (BMP280/BME280 "calculating pressure and temperature" example).
DATASHEET_T = (27504, 26435, -1000)
DATASHEET_P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
DATASHEET_ADC_T = 519888
DATASHEET_ADC_P = 415148
HUMIDITY_CAL = {"h1": 75, "h2": 362, "h3": 0, "h4": 324, "h5": 50, "h6": 30}
ADC_H = 30000


def make_registers(
    *,
    chip_id=0x60,
    t=DATASHEET_T,
    p=DATASHEET_P,
    h=HUMIDITY_CAL,
    adc_t=DATASHEET_ADC_T,
    adc_p=DATASHEET_ADC_P,
    adc_h=ADC_H,
):
    """A 256-byte BME280 register map laid out as in datasheet section 5.3, table 18."""
    regs = bytearray(256)
    regs[0xD0] = chip_id
    regs[0x88:0xA0] = struct.pack("<HhhHhhhhhhhh", *t, *p)
    regs[0xA1] = h["h1"]
    regs[0xE1:0xE3] = struct.pack("<h", h["h2"])
    regs[0xE3] = h["h3"]
    regs[0xE4] = (h["h4"] >> 4) & 0xFF
    regs[0xE5] = ((h["h5"] & 0x0F) << 4) | (h["h4"] & 0x0F)
    regs[0xE6] = (h["h5"] >> 4) & 0xFF
    regs[0xE7] = struct.pack("<b", h["h6"])[0]
    regs[0xF7:0xFA] = bytes([adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4])
    regs[0xFA:0xFD] = bytes([adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4])
    regs[0xFD:0xFF] = adc_h.to_bytes(2, "big")
    return regs


class FakeSMBus:
    """An I2C bus with one device: a register map that records every write."""

    def __init__(self, registers, *, address=0x76):
        self.registers = registers
        self.address = address
        self.writes = []
        self.block_reads = []
        self.closed = False

    def _select(self, addr):
        if addr != self.address:
            # What smbus2 raises when no device acknowledges the address.
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def read_byte_data(self, addr, reg):
        self._select(addr)
        return self.registers[reg]

    def write_byte_data(self, addr, reg, val):
        self._select(addr)
        self.writes.append((addr, reg, val))
        self.registers[reg] = val

    def read_i2c_block_data(self, addr, reg, length):
        self._select(addr)
        self.block_reads.append((reg, length))
        return list(self.registers[reg : reg + length])

    def close(self):
        self.closed = True


def double_precision(*, t, p, h, adc_t, adc_p, adc_h):
    """The floating-point compensation of datasheet section 8.1, as an oracle for the integer code."""
    t1, t2, t3 = t
    var1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
    var2 = (adc_t / 131072.0 - t1 / 8192.0) ** 2 * t3
    t_fine = var1 + var2
    temperature = t_fine / 5120.0
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = p
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * p6 / 32768.0
    var2 = var2 + var1 * p5 * 2.0
    var2 = var2 / 4.0 + p4 * 65536.0
    var1 = (p3 * var1 * var1 / 524288.0 + p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * p1
    pressure = 1048576.0 - adc_p
    pressure = (pressure - var2 / 4096.0) * 6250.0 / var1
    var1 = p9 * pressure * pressure / 2147483648.0
    var2 = pressure * p8 / 32768.0
    pressure = pressure + (var1 + var2 + p7) / 16.0
    var_h = t_fine - 76800.0
    var_h = (adc_h - (h["h4"] * 64.0 + h["h5"] / 16384.0 * var_h)) * (
        h["h2"]
        / 65536.0
        * (1.0 + h["h6"] / 67108864.0 * var_h * (1.0 + h["h3"] / 67108864.0 * var_h))
    )
    var_h = var_h * (1.0 - h["h1"] * var_h / 524288.0)
    return temperature, pressure / 100.0, min(max(var_h, 0.0), 100.0)


def test_bme280_datasheet_example():
    bus = FakeSMBus(make_registers())
    sensor = Bme280(bus, name="air")
    values = {r.key: r.value for r in sensor.read(0)}
    assert values["air_temperature"] == pytest.approx(25.08, abs=0.01)
    assert values["air_pressure"] == pytest.approx(1006.53, abs=0.01)
    _, _, humidity = double_precision(
        t=DATASHEET_T,
        p=DATASHEET_P,
        h=HUMIDITY_CAL,
        adc_t=DATASHEET_ADC_T,
        adc_p=DATASHEET_ADC_P,
        adc_h=ADC_H,
    )
    assert 40.0 < humidity < 60.0
    assert values["relative_humidity"] == pytest.approx(humidity, abs=0.01)
    assert all(isinstance(v, float) for v in values.values())
    assert [k for k, _, _ in sensor.keys] == [
        "air_temperature",
        "relative_humidity",
        "air_pressure",
    ]


@pytest.mark.parametrize(
    ("adc_t", "adc_p", "adc_h"),
    [(400000, 300000, 20000), (560000, 460000, 45000), (480000, 350000, 38000)],
)
def test_bme280_integer_code_matches_double_formulas(adc_t, adc_p, adc_h):
    bus = FakeSMBus(make_registers(adc_t=adc_t, adc_p=adc_p, adc_h=adc_h))
    values = {r.key: r.value for r in Bme280(bus).read(0)}
    t, p, h = double_precision(
        t=DATASHEET_T,
        p=DATASHEET_P,
        h=HUMIDITY_CAL,
        adc_t=adc_t,
        adc_p=adc_p,
        adc_h=adc_h,
    )
    assert values["air_temperature"] == pytest.approx(t, abs=0.01)
    assert values["air_pressure"] == pytest.approx(p, abs=0.01)
    assert values["relative_humidity"] == pytest.approx(h, abs=0.01)
    assert 0.0 <= values["relative_humidity"] <= 100.0


def test_bme280_writes_forced_mode_before_each_measurement():
    bus = FakeSMBus(make_registers())
    sensor = Bme280(bus)
    sensor.read(0)
    sensor.read(1)
    hum = [i for i, w in enumerate(bus.writes) if w == (0x76, 0xF2, 0b001)]
    meas = [i for i, (_, reg, _) in enumerate(bus.writes) if reg == 0xF4]
    assert len(hum) == 2
    assert len(meas) == 2
    # ctrl_hum must precede ctrl_meas, or the humidity oversampling is not applied (section 5.4.3).
    assert all(h < m for h, m in zip(hum, meas, strict=True))
    ctrl_meas = bus.writes[meas[0]][2]
    assert ctrl_meas & 0b11 == 0b01  # forced mode
    assert (ctrl_meas >> 5, (ctrl_meas >> 2) & 0b111) == (
        0b001,
        0b001,
    )  # x1 oversampling
    # Calibration is read once, not on every measurement.
    assert bus.block_reads.count((0x88, 26)) == 1
    assert bus.block_reads.count((0xE1, 7)) == 1
    sensor.close()
    assert bus.closed


def test_bme280_wrong_chip_id():
    sensor = Bme280(FakeSMBus(make_registers(chip_id=0x58)))
    with pytest.raises(SensorError, match=r"chip id 0x58, expected 0x60"):
        sensor.read(0)


def test_bme280_no_device_at_address():
    sensor = Bme280(FakeSMBus(make_registers(), address=0x77), address=0x76)
    with pytest.raises(SensorError, match=r"0x76: I2C error"):
        sensor.read(0)


def test_bme280_skipped_measurement():
    regs = make_registers(adc_t=0x80000)
    with pytest.raises(SensorError, match="skipped"):
        Bme280(FakeSMBus(regs)).read(0)


def test_bme280_measurement_never_finishes():
    regs = make_registers()
    bus = FakeSMBus(regs)
    bus.registers[0xF3] = 0b1000
    with pytest.raises(SensorError, match="did not finish"):
        Bme280(bus).read(0)


def test_bme280_calibration_decodes_negative_12_bit_values():
    h = {"h1": 0, "h2": -300, "h3": 255, "h4": -5, "h5": -2000, "h6": -128}
    regs = make_registers(h=h)
    cal = Calibration.from_registers(bytes(regs[0x88:0xA2]), bytes(regs[0xE1:0xE8]))
    assert (cal.h1, cal.h2, cal.h3, cal.h4, cal.h5, cal.h6) == (
        0,
        -300,
        255,
        -5,
        -2000,
        -128,
    )
    assert (cal.t1, cal.t2, cal.t3) == DATASHEET_T
    assert cal.p == DATASHEET_P


# -- SDS011 -------------------------------------------------------------------------------------

FRAME = bytes.fromhex("aac07b00c80112348aab")  # pm2_5 = 12.3, pm10 = 45.6


def make_frame(pm2_5, pm10, *, checksum=None):
    """An SDS011 active-mode data frame."""
    body = (
        round(pm2_5 * 10).to_bytes(2, "little")
        + round(pm10 * 10).to_bytes(2, "little")
        + b"\x12\x34"
    )
    return (
        b"\xaa\xc0"
        + body
        + bytes([sum(body) & 0xFF if checksum is None else checksum])
        + b"\xab"
    )


def values_of(readings):
    return {r.key: r.value for r in readings}


@pytest.fixture
def loop_port():
    port = serial.serial_for_url("loop://", timeout=0.05)
    yield port
    port.close()


@pytest.fixture
def pty():
    """A pseudo-terminal: write to the master fd, the driver opens the slave by its tty path."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_make_frame_reproduces_the_reference_frame():
    assert make_frame(12.3, 45.6) == FRAME


def test_sds011_loop_reads_a_frame(loop_port):
    loop_port.write(FRAME)
    sensor = Sds011(loop_port, name="pm", timeout_s=1.0)
    assert values_of(sensor.read(0)) == {"pm2_5": 12.3, "pm10": 45.6}


def test_sds011_loop_skips_garbage_and_returns_the_newest_frame(loop_port):
    # Garbage holding a false header, a reply frame (AA C5 ...), then two data frames.
    reply = bytes.fromhex("aac5070100a1600a69ab")
    loop_port.write(
        b"\x00\xff\xaa\x12\xaa\xc0\x01" + reply + make_frame(1.0, 2.0) + FRAME
    )
    sensor = Sds011(loop_port, timeout_s=1.0)
    assert values_of(sensor.read(0)) == {"pm2_5": 12.3, "pm10": 45.6}
    assert sensor.bad_checksums == 0


def test_sds011_loop_frame_split_across_reads(loop_port):
    sensor = Sds011(loop_port, timeout_s=0.2)
    loop_port.write(b"\x01\x02" + FRAME[:6])
    with pytest.raises(SensorError):
        sensor.read(0)
    loop_port.write(FRAME[6:])
    assert values_of(sensor.read(0)) == {"pm2_5": 12.3, "pm10": 45.6}


def test_sds011_loop_rejects_bad_checksum(loop_port):
    loop_port.write(make_frame(99.9, 120.0, checksum=0x00) + make_frame(5.5, 7.0))
    sensor = Sds011(loop_port, timeout_s=1.0)
    assert values_of(sensor.read(0)) == {"pm2_5": 5.5, "pm10": 7.0}
    assert sensor.bad_checksums == 1
    loop_port.write(make_frame(99.9, 120.0, checksum=0x8B))
    with pytest.raises(SensorError, match="2 bad checksums"):
        sensor.read(0)


def test_sds011_loop_no_data_times_out(loop_port):
    sensor = Sds011(loop_port, name="pm", timeout_s=0.3)
    start = time.monotonic()
    with pytest.raises(SensorError, match=r"'pm': no valid frame within 0.3 s"):
        sensor.read(0)
    assert 0.3 <= time.monotonic() - start < 1.5


def test_sds011_pty_reads_a_frame(pty):
    master, path = pty
    port = serial.Serial(path, baudrate=9600, timeout=0.1)
    sensor = Sds011(port, timeout_s=2.0)
    try:
        os.write(master, b"\xab\x00\xaa" + FRAME)
        assert values_of(sensor.read(0)) == {"pm2_5": 12.3, "pm10": 45.6}
        os.write(master, make_frame(3.0, 4.0, checksum=0x01))
        os.write(master, make_frame(20.1, 30.2))
        assert values_of(sensor.read(0)) == {"pm2_5": 20.1, "pm10": 30.2}
        assert sensor.bad_checksums == 1
    finally:
        sensor.close()
    assert not port.is_open


def test_sds011_pty_through_create_sensor_times_out_without_data(pty):
    _, path = pty
    sensor = create_sensor(
        SensorSpec(name="pm", driver="sds011", options={"port": path, "timeout_s": 0.4})
    )
    try:
        assert [k for k, _, _ in sensor.keys] == ["pm2_5", "pm10"]
        start = time.monotonic()
        with pytest.raises(SensorError, match="no valid frame"):
            sensor.read(0)
        assert time.monotonic() - start < 2.0
    finally:
        sensor.close()


def test_sds011_missing_port():
    spec = SensorSpec(
        name="pm", driver="sds011", options={"port": "/dev/does-not-exist-sds011"}
    )
    with pytest.raises(
        SensorError, match="cannot open serial port '/dev/does-not-exist-sds011'"
    ):
        create_sensor(spec)


# -- DS18B20 ------------------------------------------------------------------------------------

DEVICE = "28-0316a2795aff"


def write_w1(base, *, crc="YES", milli_c=23125, device=DEVICE):
    """A sysfs w1_slave file as the w1_therm kernel driver prints it."""
    directory = base / device
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "w1_slave").write_text(
        f"72 01 4b 46 7f ff 0e 10 57 : crc=57 {crc}\n72 01 4b 46 7f ff 0e 10 57 t={milli_c}\n"
    )
    return directory


def ds18b20_spec(base, **options):
    return SensorSpec(
        name="probe", driver="ds18b20", options={"base_dir": str(base), **options}
    )


def test_ds18b20_good_read(tmp_path):
    write_w1(tmp_path)
    sensor = create_sensor(ds18b20_spec(tmp_path))
    assert sensor.keys == (("temperature", "temperature", "degC"),)
    assert values_of(sensor.read(0)) == {"temperature": 23.125}
    sensor.close()


def test_ds18b20_negative_and_renamed_key(tmp_path):
    write_w1(tmp_path, milli_c=-1250)
    write_w1(tmp_path, device="28-000000000001", milli_c=5000)
    sensor = create_sensor(
        ds18b20_spec(tmp_path, device_id=DEVICE, key="soil_temperature")
    )
    assert sensor.keys == (("soil_temperature", "temperature", "degC"),)
    assert values_of(sensor.read(0)) == {"soil_temperature": -1.25}


def test_ds18b20_crc_error(tmp_path):
    write_w1(tmp_path, crc="NO")
    with pytest.raises(SensorError, match="CRC check failed"):
        create_sensor(ds18b20_spec(tmp_path)).read(0)


def test_ds18b20_power_on_reset_value(tmp_path):
    write_w1(tmp_path, milli_c=85000)
    with pytest.raises(SensorError, match="85 degC power-on reset"):
        create_sensor(ds18b20_spec(tmp_path)).read(0)


def test_ds18b20_missing_device_dir(tmp_path):
    write_w1(tmp_path, device="28-000000000001")
    sensor = create_sensor(ds18b20_spec(tmp_path, device_id=DEVICE))
    with pytest.raises(
        SensorError,
        match=rf"cannot read .*{DEVICE}/w1_slave.*devices present: 28-000000000001",
    ):
        sensor.read(0)


def test_ds18b20_no_devices(tmp_path):
    with pytest.raises(
        ConfigError, match=r"no DS18B20 \(28-\*\) under .*dtoverlay=w1-gpio"
    ):
        create_sensor(ds18b20_spec(tmp_path))


# -- simulated ----------------------------------------------------------------------------------

# Local midnight (UTC+1) of a June day.
DAY_START_NS = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp()) * 10**9 - 3600 * 10**9
MINUTE_NS = 60 * 10**9


def simulate_day(kind, *, seed=7):
    """One reading per minute over a local day, without dropouts: {key: array}."""
    sensor = Simulated("sim", kind=kind, seed=seed, dropout=0.0)
    rows = [
        values_of(sensor.read(DAY_START_NS + i * MINUTE_NS)) for i in range(24 * 60)
    ]
    return {key: np.array([row[key] for row in rows]) for key, _, _ in sensor.keys}


def test_simulated_is_deterministic():
    times = [DAY_START_NS + i * 7_919 * 10**6 for i in range(200)]
    a, b = Simulated("a", seed=42), Simulated("b", seed=42)
    assert [a.read(t) for t in times] == [b.read(t) for t in times]
    # Any single read is reproducible on its own, whatever came before.
    assert Simulated("c", seed=42).read(times[57]) == a.read(times[57])
    other = Simulated("d", seed=43)
    assert [a.read(t) for t in times] != [other.read(t) for t in times]


def test_simulated_seed_defaults_to_crc32_of_the_name():
    sensor = create_sensor(SensorSpec(name="roof-air", driver="simulated"))
    assert isinstance(sensor, Simulated)
    assert sensor.seed == zlib.crc32(b"roof-air")
    assert sensor.dropout == 0.01
    explicit = create_sensor(
        SensorSpec(
            name="roof-air", driver="simulated", options={"seed": 5, "kind": "noise"}
        )
    )
    assert explicit.seed == 5
    assert explicit.keys == (("noise_level", "noise_level", "dBA"),)


def test_simulated_air_ranges_and_daily_cycle():
    day = simulate_day("air")
    temperature, humidity, pressure = (
        day["air_temperature"],
        day["relative_humidity"],
        day["air_pressure"],
    )
    assert temperature.min() >= 2.0
    assert temperature.max() <= 28.0
    assert temperature.max() - temperature.min() > 8.0
    assert 0.0 <= humidity.min() <= humidity.max() <= 100.0
    assert 950.0 < pressure.min() <= pressure.max() < 1010.0
    # Warm afternoons (14-16 h), cool dawns (4-6 h); humidity moves the other way.
    assert (
        temperature[14 * 60 : 16 * 60].mean()
        > temperature[4 * 60 : 6 * 60].mean() + 8.0
    )
    assert np.corrcoef(temperature, humidity)[0, 1] < -0.8


def test_simulated_particulate_ranges():
    day = simulate_day("particulate")
    assert np.all(day["pm10"] >= day["pm2_5"])
    assert day["pm2_5"].min() > 0.0
    assert day["pm10"].max() < 200.0
    # The evening peak stands out from the small hours.
    assert (
        day["pm2_5"][19 * 60 : 21 * 60].mean()
        > 1.5 * day["pm2_5"][2 * 60 : 4 * 60].mean()
    )


def test_simulated_noise_day_louder_than_night():
    level = simulate_day("noise")["noise_level"]
    assert 30.0 <= level.min() <= level.max() <= 95.0
    day, night = level[10 * 60 : 18 * 60].mean(), level[0 : 5 * 60].mean()
    assert day > night + 10.0
    assert 55.0 < day < 65.0
    assert 40.0 < night < 50.0


def test_simulated_dropout_rate():
    sensor = Simulated("sim", kind="particulate", seed=3, dropout=0.2)
    empty = sum(sensor.read(DAY_START_NS + i * 10**9) == [] for i in range(2000))
    assert 0.15 <= empty / 2000 <= 0.25
    assert all(
        Simulated("sim", seed=3, dropout=0.0).read(DAY_START_NS + i * 10**9)
        for i in range(200)
    )


def test_simulated_values_are_floats():
    for kind in ("air", "particulate", "noise"):
        readings = Simulated("sim", kind=kind, dropout=0.0).read(DAY_START_NS)
        assert readings
        assert all(type(r.value) is float and math.isfinite(r.value) for r in readings)


# -- create_sensor and SensorSpec ---------------------------------------------------------------


def test_create_sensor_unknown_driver():
    with pytest.raises(
        ConfigError,
        match=r"unknown driver 'sht99'; valid drivers: bme280, ds18b20, sds011, simulated",
    ):
        create_sensor(SensorSpec(name="x", driver="sht99"))
    assert set(DRIVERS) == {"simulated", "bme280", "sds011", "ds18b20"}


@pytest.mark.parametrize(
    ("driver", "options", "option"),
    [
        ("simulated", {"kind": "water"}, "kind"),
        ("simulated", {"dropuot": 0.1}, "dropuot"),
        ("simulated", {"dropout": 1.5}, "dropout"),
        ("bme280", {"address": 0x10}, "address"),
        ("sds011", {"timeout_s": 0}, "timeout_s"),
        ("ds18b20", {"device_id": "10-abc"}, "device_id"),
    ],
)
def test_create_sensor_bad_option(driver, options, option):
    with pytest.raises(
        ConfigError, match=rf"sensor 'x' \(driver '{driver}'\): option '{option}'"
    ):
        create_sensor(SensorSpec(name="x", driver=driver, options=options))


@pytest.mark.parametrize(
    ("driver", "module"), [("bme280", "smbus2"), ("sds011", "serial")]
)
def test_create_sensor_without_hardware_extra(monkeypatch, driver, module):
    # A None entry in sys.modules makes `import` raise ImportError, as on a Pi without the extra.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigError, match=r"pip install 'livinglab-edge-agent\[pi\]'"):
        create_sensor(SensorSpec(name="x", driver=driver))


def test_create_sensor_bme280_missing_bus():
    spec = SensorSpec(name="air", driver="bme280", options={"bus": 97})
    assert not Path("/dev/i2c-97").exists()
    with pytest.raises(SensorError, match="cannot open /dev/i2c-97"):
        create_sensor(spec)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Bad Name", "driver": "simulated"},
        {"name": "x", "driver": "simulated", "interval_s": 0.01},
    ],
)
def test_sensor_spec_validation(fields):
    with pytest.raises(pydantic.ValidationError):
        SensorSpec(**fields)


def test_sensor_spec_defaults():
    spec = SensorSpec(name="x", driver="simulated")
    assert (spec.interval_s, spec.enabled, spec.options) == (10.0, True, {})
