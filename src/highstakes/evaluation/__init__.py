"""Metrics, reliability estimates, robustness and threshold calibration."""
