"""The engine: schemas, normalisation, candidates, scoring, allocation, executors, analytics.

Pure functions over Arrow tables; no I/O but the interchange readers and writers.
"""
