"""Parsers: one module per bank or remittance format, each ``bytes -> Arrow``."""
