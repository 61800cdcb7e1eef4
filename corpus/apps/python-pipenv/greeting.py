def greeting() -> str:
    return "hello from a pipenv app"
