def greeting() -> str:
    return "hello from a uv app"
