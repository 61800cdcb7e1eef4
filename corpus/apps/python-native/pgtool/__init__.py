"""Small helpers around libpq connection strings."""
