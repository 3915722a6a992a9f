"""A stand-in OpenAI-compatible model on loopback for the real-programs tests: canned answers, every request logged.
$1 = port file to write the chosen port to, $2 = the log (one JSON request body per line)."""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG = sys.argv[1], sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model"}]}))

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "body": body}) + "\n")
        answer = "Noted. (stub answer %d)" % int(time.time() * 1000)
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": body.get("model", "stub-model")}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if not self.path.endswith("/chat/completions"):
            self.reply(404, json.dumps({"error": {"message": "stub: only chat/completions"}}))
        elif body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunks = [
                {"index": 0, "delta": {"role": "assistant", "content": answer}, "finish_reason": None},
                {"index": 0, "delta": {}, "finish_reason": "stop"},
            ]
            for choice in chunks:
                event = dict(base, object="chat.completion.chunk", choices=[choice])
                self.wfile.write(("data: %s\n\n" % json.dumps(event)).encode())
            self.wfile.write(("data: %s\n\n" % json.dumps(dict(base, object="chat.completion.chunk", choices=[], usage=usage))).encode())
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            message = {"role": "assistant", "content": answer}
            self.reply(200, json.dumps(dict(base, object="chat.completion", usage=usage,
                                            choices=[{"index": 0, "message": message, "finish_reason": "stop"}])))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
