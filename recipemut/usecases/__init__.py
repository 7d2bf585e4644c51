"""Use cases: what a command does, from its settings to a result value, without the console.

Each function here runs one pipeline (load -> ingest -> profile -> replay -> search, ...) from
frozen settings values built once at the CLI's edge, and returns a value the command renders.
"""
