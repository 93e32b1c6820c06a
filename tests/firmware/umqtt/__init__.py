"""A stand-in for MicroPython's umqtt package: `umqtt.simple` over paho-mqtt (simple.py)."""
