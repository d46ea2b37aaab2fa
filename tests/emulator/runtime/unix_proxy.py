"""ProxyCommand for OpenSSH in tests: stdio <-> the unix socket given as argv[1]."""

import os
import socket
import sys
import threading


def _upstream(sock: socket.socket) -> None:
    while data := os.read(0, 65536):
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)


def main() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    threading.Thread(target=_upstream, args=(sock,), daemon=True).start()
    while data := sock.recv(65536):
        os.write(1, data)


if __name__ == "__main__":
    main()
