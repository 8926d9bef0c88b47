"""The topology of the weights: neural persistence (persistence.py) and the space of neurons (neurons.py)."""
