"""Shipped data: the ImageNet class index, the demo data generators and the demo models."""
