def greeting() -> str:
    return "hello from a pip-user app"
