"""Reading and writing users' files safely: bounded reads, atomic writes, locks."""
