"""The shape of a network's weights: the space of neurons (neurons.py), the space of first-layer filters
(filters.py), the Mapper graph and diagrams both take of their cloud (cloud.py), their figures
(neuron_plots.py, filter_plots.py) and neural persistence through training (persistence_plots.py; NP
itself is nntopo.topology.persistence). stage.py reads and writes their files and saves the figures."""
