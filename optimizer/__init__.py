"""dockeropt: a Dockerfile rewriter and optimiser."""

__version__ = "0.1.0"
