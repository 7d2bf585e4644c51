"""Mutations: the edit values and the operators that propose them."""
