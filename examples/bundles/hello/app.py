"""A tiny HTTP app that says which version it is: `GET /` → `hello from v2.0.0 …`, `GET /healthz` → ok."""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = Path("VERSION").read_text().strip() if Path("VERSION").exists() else "unknown"
SNAPSHOT = json.loads(Path(os.environ["ROLLOUT_SNAPSHOT"]).read_text()) if os.environ.get("ROLLOUT_SNAPSHOT") else {}
GREETING = SNAPSHOT.get("params", {}).get("greeting", "hello")


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = b"ok\n"
        else:
            body = f"{GREETING} from v{VERSION} (pid {os.getpid()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello)
    # SIGTERM (rollout's stop) ends serve_forever cleanly, from another thread as shutdown() requires.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"hello v{VERSION} serving on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()
    print("hello stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
