"""The domain: knowledge base and search, parameters, places, household, rules, triage.

Imports nothing from the rest of the project and does no I/O beyond reading its own
data files (ARCHITECTURE.md).
"""
