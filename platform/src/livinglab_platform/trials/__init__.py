"""Trials: registration, lifecycle, device assignments and data grants."""
