from dockeropt.cli import run

run()
