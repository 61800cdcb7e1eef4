from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def flags(request):
    return JSONResponse({})


app = Starlette(routes=[Route('/flags', flags)])
