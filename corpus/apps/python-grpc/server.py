"""A gRPC server on 50051 with the standard health service (grpc.health.v1) and one raw-bytes echo method."""

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from echo import echo_handler

PORT = 50051


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    status = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    server.add_generic_rpc_handlers((echo_handler(),))
    server.add_insecure_port(f"[::]:{PORT}")
    server.start()
    status.set("", health_pb2.HealthCheckResponse.SERVING)
    status.set("lab.Echo", health_pb2.HealthCheckResponse.SERVING)
    print(f"gRPC server listening on {PORT}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
