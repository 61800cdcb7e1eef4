import sys

from pgcheck.report import report

if __name__ == "__main__":
    print(report(sys.argv[1] if len(sys.argv) > 1 else "host=db user=app dbname=orders"))
