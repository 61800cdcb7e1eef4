import psycopg2
from psycopg2 import extensions


def describe(dsn: str) -> str:
    """Parse a connection string with libpq itself and describe it."""
    parts = extensions.parse_dsn(dsn)
    host = parts.get("host", "localhost")
    return f"{parts.get('user', '?')}@{host}:{parts.get('port', '5432')}/{parts.get('dbname', '?')}"


def report() -> str:
    """libpq's version as seen through the compiled extension."""
    version = extensions.libpq_version()
    return f"libpq ok version={version} psycopg2={psycopg2.__version__.split()[0]}"
