"""A threaded TCP server on a free 127.0.0.1 port, for the tests' small purpose-built servers."""

import socketserver
import threading

HOST = "127.0.0.1"


class ThreadedTCPServer(socketserver.ThreadingTCPServer):
    """Serves ``handler_class`` in a background thread from creation until ``stop()``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler_class):
        super().__init__((HOST, 0), handler_class)
        self.stopping = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()
