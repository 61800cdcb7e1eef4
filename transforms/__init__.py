"""Transform passes, one module per rule; discovered by :func:`dockeropt.rules.load_passes`."""
