"""Predicting a recipe's behaviour: trace replay and the cache, hedge and bytes models it uses."""
