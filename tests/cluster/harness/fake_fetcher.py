#!/usr/bin/python3
"""A fake fetcher, run INSIDE an attacker's network namespace (`ip netns exec NS python3
fake_fetcher.py ...`) by tests/cluster/test_stalled_fetcher.py (issue 30, row 3).

It says hello to every node from its own address (so it is a member, as any host on the network
can be without a peer secret), claims every key it is given at every node (one of them is the
key's claim owner), reports false progress for all of them every second, and serves each GET of
a blob or manifest it is sent with a head and the content's first 10 bytes, then holds the
connection without another byte. Its registry port listens on BIND_IP only; it has no router
server (owners that pick it fail over).

Safety as harness/nsclient.py: it refuses to run where a default route exists (the root
namespace), and refuses a bind address or node address outside 10.213.0.0/16.

Prints one JSON object per line on stdout: {"hello": ip, "status"}, {"claim": key, "node": ip,
"answer"}, {"claims_done": n}, {"served": path, "range"}, {"revoked": key, "node": ip, "reclaim":
answer} (a revoked key is claimed again at once). Runs until SIGTERM.

  fake_fetcher.py BIND_IP NODE_ID BLOB_DIR NODE_IPS KEYS [--registry-port P] [--router-port P]
      NODE_IPS and KEYS are comma-separated; BLOB_DIR holds the content as <hex> files (an OCI
      layout's blobs/sha256).
"""

import argparse
import http.client
import http.server
import ipaddress
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsclient  # noqa: E402  (the same safety checks)

HOLD_S = 600
PREFIX_BYTES = 10
_print_lock = threading.Lock()
_stop = threading.Event()


def emit(obj):
    with _print_lock:
        print(json.dumps(obj), flush=True)


def in_test_range(ip):
    return ipaddress.ip_address(ip) in ipaddress.ip_network("10.213.0.0/16")


class StallHandler(http.server.BaseHTTPRequestHandler):
    blob_dir = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the test reads stdout
        pass

    def _content(self):
        path = self.path.split("?", 1)[0]
        digest = path.rsplit("/", 1)[-1]
        if ("/blobs/" not in path and "/manifests/" not in path) or \
                not digest.startswith("sha256:"):
            return None, None
        file = os.path.join(self.blob_dir, digest[len("sha256:"):])
        if not os.path.isfile(file):
            return None, None
        return digest, file

    def _head(self, digest, file):
        self.send_response(200)
        self.send_header("Content-Length", str(os.path.getsize(file)))
        self.send_header("Docker-Content-Digest", digest)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def do_HEAD(self):
        digest, file = self._content()
        if digest is None:
            self.send_error(404)
            return
        self._head(digest, file)

    def do_GET(self):
        digest, file = self._content()
        if digest is None:
            self.send_error(404)
            return
        emit({"served": self.path, "range": self.headers.get("Range", "")})
        self._head(digest, file)
        with open(file, "rb") as f:
            self.wfile.write(f.read(PREFIX_BYTES))
        self.wfile.flush()
        # Hold: no other byte, until the reader gives up or we are stopped.
        _stop.wait(HOLD_S)
        self.close_connection = True


def post(ip, port, path, body, node_id, registry_port):
    conn = http.client.HTTPConnection(ip, port, timeout=2.0)
    try:
        headers = {"X-Spegel-Node": node_id, "X-Spegel-Registry-Port": str(registry_port)}
        conn.request("POST", path, body=body.encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def hello(a, ip):
    body = (f"id={a.node_id}\ninc={int(time.time() * 1000)}\nregistry={a.registry_port}\n"
            f"router={a.router_port}\n")
    status, _ = post(ip, a.router_port, "/cluster/v1/hello", body, a.node_id, a.registry_port)
    return status


def main():
    if nsclient._has_default_route():
        return nsclient._refuse("this namespace has a default route (root namespace?)")
    ap = argparse.ArgumentParser()
    ap.add_argument("bind_ip")
    ap.add_argument("node_id")
    ap.add_argument("blob_dir")
    ap.add_argument("node_ips")
    ap.add_argument("keys")
    ap.add_argument("--registry-port", type=int, default=5000)
    ap.add_argument("--router-port", type=int, default=5001)
    a = ap.parse_args()
    nodes = [ip for ip in a.node_ips.split(",") if ip]
    keys = [k for k in a.keys.split(",") if k]
    if not in_test_range(a.bind_ip) or not all(in_test_range(ip) for ip in nodes):
        return nsclient._refuse("addresses must be in 10.213.0.0/16")
    signal.signal(signal.SIGTERM, lambda *_: _stop.set())

    StallHandler.blob_dir = a.blob_dir
    server = http.server.ThreadingHTTPServer((a.bind_ip, a.registry_port), StallHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    for ip in nodes:
        emit({"hello": ip, "status": hello(a, ip)})
    claimed = 0
    for key in keys:
        for ip in nodes:
            status, body = post(ip, a.router_port, "/cluster/v1/claim",
                                f"key={key}\nserve=1\n", a.node_id, a.registry_port)
            emit({"claim": key, "node": ip, "status": status,
                  "answer": body.split("\n", 1)[0] if status == 200 else body[:200]})
            claimed += 1
    emit({"claims_done": claimed})

    started = time.monotonic()
    last_hello = started
    while not _stop.wait(1.0):
        now = time.monotonic()
        if now - last_hello >= 5.0:
            for ip in nodes:
                hello(a, ip)
            last_hello = now
        # False progress: half a MiB more every second, never the end.
        offset = int((now - started) * (512 << 10)) + (1 << 20)
        lines = []
        for key in keys:
            lines.append(f"fetching {offset} 0 {key}\n")
        for ip in nodes:
            status, body = post(ip, a.router_port, "/cluster/v1/progress", "".join(lines),
                                a.node_id, a.registry_port)
            if status != 200:
                continue
            for line in body.splitlines():
                if not line.startswith("revoked "):
                    continue
                # Revoked: it claims the key again at once, as an attacker would.
                key = line[len("revoked "):]
                again, answer = post(ip, a.router_port, "/cluster/v1/claim",
                                     f"key={key}\nserve=1\n", a.node_id, a.registry_port)
                emit({"revoked": key, "node": ip,
                      "reclaim": answer.split("\n", 1)[0] if again == 200 else answer[:200]})
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
