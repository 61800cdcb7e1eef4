"""Data catalogs: package managers (packages.py) and base images (images.py)."""
