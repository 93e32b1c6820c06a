"""The board's `machine` module, faked at its boundary: the ADC the example reads."""

from __future__ import annotations


class ADC:
    # About 21 degC on the RP2040's internal sensor: 27 - (volts - 0.706) / 0.001721.
    RAW = 14_226

    def __init__(self, channel: int) -> None:
        self.channel = channel

    def read_u16(self) -> int:
        return self.RAW


class Pin:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass


def reset() -> None:
    raise SystemExit("machine.reset()")
