"""A small echo workload for the routing conformance cases: one process stands for one pod.

    python echo_server.py --name b-0 --http PORT [--grpc PORT] [--tcp PORT]

HTTP (any method; HTTP/1.1 with keep-alive, or HTTP/2 cleartext with prior knowledge on the
same port, as Istio's echo): 200 with JSON naming what arrived: instance, method, path (with
query), host, protocol (HTTP/1.1 or HTTP/2.0) and every header. A request with
`x-echo-status: N` gets status N instead. gRPC (grpcio): the unary method /echo.Echo/Call
answers the instance name. TCP: one line in, the instance name back.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

import h2.config
import h2.connection
import h2.events

GRPC_METHOD = "/echo.Echo/Call"


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def report(instance: str, method: str, path: str, host: str, protocol: str, headers: list) -> tuple:
    """(status, JSON body) for one request; headers as [(name, value)]."""
    seen: dict = {}
    for name, value in headers:
        key = name.lower()
        seen[key] = f"{seen[key]},{value}" if key in seen else value
    body = {"instance": instance, "method": method, "path": path, "host": host, "protocol": protocol,
            "headers": seen}
    return int(seen.get("x-echo-status") or 200), json.dumps(body).encode()


def http1_handler(instance: str) -> type:
    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            status, data = report(instance, self.command, self.path, self.headers.get("host", ""),
                                  self.request_version, list(self.headers.items()))
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # the tests read the answers, not an access log

    return Echo


def serve_h2(instance: str, sock: socket.socket) -> None:
    """One HTTP/2 cleartext connection (prior knowledge), every stream answered with its report."""
    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    requests: dict = {}
    while True:
        data = sock.recv(65535)
        if not data:
            return
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                requests[event.stream_id] = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h2.events.DataReceived):
                connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers = requests.pop(event.stream_id, [])
                pseudo = {k: v for k, v in headers if k.startswith(":")}
                plain = [(k, v) for k, v in headers if not k.startswith(":")]
                status, body = report(instance, pseudo.get(":method", ""), pseudo.get(":path", ""),
                                      pseudo.get(":authority", ""), "HTTP/2.0", plain)
                connection.send_headers(event.stream_id, [
                    (":status", str(status)), ("content-type", "application/json"),
                    ("content-length", str(len(body))),
                ])
                connection.send_data(event.stream_id, body, end_stream=True)
        sock.sendall(connection.data_to_send())


def _starts_with_h2_preface(sock: socket.socket) -> bool:
    """Peek until the first bytes are the HTTP/2 preface or cannot become it."""
    while True:
        start = sock.recv(len(H2_PREFACE), socket.MSG_PEEK)
        if not start or not H2_PREFACE.startswith(start):
            return False
        if start == H2_PREFACE:
            return True
        time.sleep(0.001)


def http_handler(instance: str) -> type:
    http1 = http1_handler(instance)

    class Either(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # peer's delayed ACK hold the body back 40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if _starts_with_h2_preface(self.request):
                serve_h2(instance, self.request)
            else:
                http1(self.request, self.client_address, self.server)

    return Either


def tcp_handler(instance: str) -> type:
    class Echo(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(f"{instance}\n".encode())

    return Echo


def start_grpc(instance: str, port: int) -> object:
    import grpc

    def call(request: bytes, context: object) -> bytes:
        return instance.encode()

    handler = grpc.method_handlers_generic_handler(
        "echo.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)}
    )
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--http", type=int, required=True)
    parser.add_argument("--grpc", type=int)
    parser.add_argument("--tcp", type=int)
    args = parser.parse_args()
    servers = []
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    http_server = socketserver.ThreadingTCPServer(("127.0.0.1", args.http), http_handler(args.name))
    http_server.daemon_threads = True
    servers.append(http_server)
    if args.tcp:
        tcp_server = socketserver.ThreadingTCPServer(("127.0.0.1", args.tcp), tcp_handler(args.name))
        tcp_server.daemon_threads = True
        servers.append(tcp_server)
    grpc_server = start_grpc(args.name, args.grpc) if args.grpc else None  # referenced: keeps it serving
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # A pod holds no state worth a graceful stop: SIGTERM ends the process at once.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Event().wait()
    del grpc_server
    return 0


if __name__ == "__main__":
    sys.exit(main())
