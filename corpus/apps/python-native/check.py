import sys

from pgtool.dsn import describe, report

if __name__ == "__main__":
    dsn = sys.argv[1] if len(sys.argv) > 1 else "postgresql://app@db.internal:6543/orders"
    print(report())
    print("dsn:", describe(dsn))
