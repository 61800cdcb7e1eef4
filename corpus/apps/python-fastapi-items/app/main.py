from fastapi import FastAPI

from app.items import ITEMS

app = FastAPI()


@app.get("/items")
def read_items() -> dict[str, list[dict[str, object]]]:
    return {"items": ITEMS}


@app.get("/items/{item_id}")
def read_item(item_id: int) -> dict[str, object]:
    return ITEMS[item_id]
