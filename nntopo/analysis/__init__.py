"""What the clusters mean: neuron rankings, ablation, agreement between clusterings and across layers."""
