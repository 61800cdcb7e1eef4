import grpc


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b"echo: " + request


def echo_handler() -> grpc.GenericRpcHandler:
    """/lab.Echo/Say: the request bytes back, prefixed (no generated stubs needed)."""
    return grpc.method_handlers_generic_handler(
        "lab.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    )
