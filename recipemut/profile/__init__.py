"""The performance profile built from a recipe and its span table."""
