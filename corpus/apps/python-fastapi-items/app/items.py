ITEMS: list[dict[str, object]] = [
    {"id": 0, "name": "hammer"},
    {"id": 1, "name": "wrench"},
]
