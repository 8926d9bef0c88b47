"""nntopo: train small networks, record them, and study the topology of their activations.

Importing the package is cheap on purpose (no torch): the Snakefile imports it to build the DAG.
"""
