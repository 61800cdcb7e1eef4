import psycopg2
from psycopg2.extensions import parse_dsn


def report(dsn: str) -> str:
    parts = parse_dsn(dsn)
    libpq = psycopg2.__libpq_version__
    return f"psycopg2 {psycopg2.__version__.split()[0]} libpq {libpq // 10000}: {parts['user']}@{parts['host']}/{parts['dbname']}"
