"""Applications built on the public API: the command line and the demo."""
