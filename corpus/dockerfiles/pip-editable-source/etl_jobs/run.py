import pandas as pd


def main():
    print(pd.__version__)


if __name__ == '__main__':
    main()
