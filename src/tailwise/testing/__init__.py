"""Shared contract tests and tiny fixtures for tailwise models (used by tests and plug-ins)."""
