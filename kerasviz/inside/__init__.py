"""Inside the network: activations, layer statistics, filter weights and patterns."""
