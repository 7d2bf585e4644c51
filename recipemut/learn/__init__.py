"""Learning which operators pay off: the profile store and the bandit."""
