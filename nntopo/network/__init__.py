"""Models and training: the networks, how they are trained, and how their activations are recorded."""
