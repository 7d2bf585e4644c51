"""Applying plans: the locked write transaction, canaries, the history chain and rollback."""
