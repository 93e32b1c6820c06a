"""The board's `network` module, faked: the Wi-Fi is up at once."""

from __future__ import annotations

STA_IF = 0


class WLAN:
    def __init__(self, interface: int) -> None:
        self.interface = interface

    def active(self, on: bool) -> None:
        pass

    def connect(self, ssid: str, password: str) -> None:
        pass

    def isconnected(self) -> bool:
        return True
