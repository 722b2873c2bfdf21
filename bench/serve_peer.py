"""The Python peer of bench/serve.sh: the same ALS model (read from the drec
model file: JSON header + aligned float32 tensors X, Y and the id tables)
served by the standard library's ThreadingHTTPServer with numpy scoring and
argpartition top-k, excluding the user's training items -- what a minimal
Python deployment of an `implicit`-style model looks like.
Usage: serve_peer.py MODEL.drec PORT"""
import json, struct, sys
import numpy as np
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

path, port = sys.argv[1], int(sys.argv[2])
raw = open(path, "rb").read()
hlen = struct.unpack_from("<I", raw, 12)[0]
hdr = json.loads(raw[16:16 + hlen])
T = {t["name"]: t for t in hdr["tensors"]}
def tensor(name, dtype):
    t = T[name]
    a = np.frombuffer(raw, dtype=dtype, count=t["bytes"] // np.dtype(dtype).itemsize, offset=t["offset"])
    return a.reshape(t["shape"]) if len(t["shape"]) > 1 else a
X, Y = tensor("X", np.float32), tensor("Y", np.float32)
names = lambda n: raw[T[n]["offset"]:T[n]["offset"] + T[n]["bytes"]].split(b"\0")[:-1]
users = {u.decode(): k for k, u in enumerate(names("_users"))}
items = [i.decode() for i in names("_items")]
seen_ptr, seen_idx = tensor("_seen_ptr", np.int64), tensor("_seen_idx", np.int32)

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        u = users.get(q.get("user", [""])[0], -1)
        k = int(q.get("k", ["10"])[0])
        s = Y @ X[u]
        s[seen_idx[seen_ptr[u]:seen_ptr[u + 1]]] = -np.inf
        top = np.argpartition(-s, k)[:k]
        top = top[np.argsort(-s[top])]
        body = json.dumps({"user": q["user"][0], "items": [{"item": items[i], "score": float(s[i])} for i in top]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

print("listening", port, flush=True)
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
