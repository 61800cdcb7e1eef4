# Run by the Dockerfile during the build: without this folder pytest collects nothing and exits 5.
from app import greeting


def test_greeting() -> None:
    assert greeting("x") == "hello, x"
