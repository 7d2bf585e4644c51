"""Forecasting request rates and when each service crosses its capacity target."""
