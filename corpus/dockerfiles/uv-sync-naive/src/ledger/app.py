from litestar import Litestar, get


@get('/balance')
async def balance() -> dict:
    return {'balance': 0}


app = Litestar([balance])
