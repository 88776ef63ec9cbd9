"""An OpenAI-compatible server on 127.0.0.1 that is killed (SIGKILL, by itself) in the middle of its first chat completion.

Usage: python dying_llm_server.py PORT. It lists one model, then dies without answering the first
POST /v1/chat/completions, exactly as a crashed llama.cpp or vLLM server looks to its client.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model", "max_model_len": 2048}]}).encode()
        self.send_response(200 if self.path.rstrip("/").endswith("/models") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the whole request arrived...
        sys.stderr.write("chat completion received; dying\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the process dies before it answers

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
