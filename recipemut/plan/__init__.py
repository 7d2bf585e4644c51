"""Planning: the search over mutations and the plan file."""
