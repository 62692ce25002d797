"""Core inputs: images, models, layers, targets and the ImageNet class index."""
