"""recipemut: make workflow recipes faster and cheaper before they need more capacity."""

__version__ = "0.1.0"
