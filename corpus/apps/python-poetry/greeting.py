def greeting() -> str:
    return "hello from a poetry app"
