#!/usr/bin/python3
"""An attacker's tools, run INSIDE its own network namespace (`ip netns exec NS python3
attack_tools.py ...`) by tests/cluster/test_attacks.py (issue 30, "who may speak for the
cluster"). The attacker is a host on the cluster's segment that runs no spegel and has no peer
secret.

Safety as harness/nsclient.py: every command refuses to run where a default route exists (the
root namespace), and refuses any address outside 10.213.0.0/16. Every loop is bounded in count
and time. Each command prints JSON objects, one per line, on stdout.

  serve BIND_IP PORT BLOB_DIR REPO TAG DIGEST MEDIA_TYPE
      A registry that answers /v2/REPO/manifests/TAG with the manifest DIGEST (its own bytes, its
      own Docker-Content-Digest) and any manifest or blob by digest from BLOB_DIR (<hex> files):
      a different, self-consistent image under someone else's tag. Prints {"request": method,
      "path", "status"} per request. Runs until SIGTERM (at most SERVE_MAX_S).
  posts SPEC_FILE
      Sends the POSTs listed in SPEC_FILE (JSON: [{"url", "headers", "body"}], at most
      MAX_POSTS) one after another; prints {"statuses": [status or null, ...]}.
  flood IP PORT CONNECTIONS BODY_BYTES SECONDS
      Opens CONNECTIONS connections to IP:PORT, sends each the head of a POST
      /cluster/v1/announce with Content-Length: BODY_BYTES, then the bodies round-robin in 64 KiB
      pieces for SECONDS, never a body's last byte. Prints {"opened": n} once every head is sent,
      then {"statuses": {status: connections} (null: no answer), "sent_bytes"} and closes them.
  mdns BIND_IP COUNT PER_PACKET UNOWNED_IP SECONDS
      Multicasts (on the interface that has BIND_IP only) mDNS responses announcing COUNT
      `_spegel._tcp` instances, PER_PACKET in each (PTR + SRV + TXT + A per instance), spread over
      SECONDS. Every A record says BIND_IP except the last instance's, which says UNOWNED_IP.
      Prints {"packets", "instances", "unowned_id", "largest_packet"}.
"""

import http.client
import http.server
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsclient  # noqa: E402  (the same safety checks)

SERVE_MAX_S = 900
MAX_POSTS = 2000
MAX_CONNECTIONS = 1000
MAX_FLOOD_S = 9.0
MAX_INSTANCES = 20000
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
SERVICE = "_spegel._tcp.local"


def emit(obj):
    print(json.dumps(obj), flush=True)


def in_test_range(ip):
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network("10.213.0.0/16")
    except ValueError:
        return False


# ---- serve ---------------------------------------------------------------------------------


class ImpostorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    blob_dir = repo = tag = digest = media_type = ""

    def log_message(self, fmt, *args):  # quiet: the test reads stdout
        pass

    def _content(self):
        """(bytes, media type, digest) for the request path, or None."""
        path = urllib.parse.urlsplit(self.path).path
        if path == "/v2/" or path == "/v2":
            return b"{}", "application/json", None
        prefix = f"/v2/{self.repo}/"
        if not path.startswith(prefix):
            return None
        kind, _, ref = path[len(prefix):].partition("/")
        if kind == "manifests" and ref == self.tag:
            ref = self.digest
        if kind not in ("manifests", "blobs") or not ref.startswith("sha256:"):
            return None
        hexpart = ref[len("sha256:"):]
        if not hexpart.isalnum():
            return None
        file = os.path.join(self.blob_dir, hexpart)
        if not os.path.isfile(file):
            return None
        with open(file, "rb") as f:
            data = f.read()
        mt = self.media_type if kind == "manifests" else "application/octet-stream"
        return data, mt, ref

    def _answer(self, with_body):
        found = self._content()
        status = 200 if found else 404
        emit({"request": self.command, "path": self.path, "status": status})
        if not found:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, mt, digest = found
        self.send_response(200)
        self.send_header("Content-Type", mt)
        self.send_header("Content-Length", str(len(data)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def do_HEAD(self):
        self._answer(False)

    def do_GET(self):
        self._answer(True)


def cmd_serve(argv):
    bind_ip, port, blob_dir, repo, tag, digest, media_type = argv
    if not in_test_range(bind_ip):
        return nsclient._refuse("bind address must be in 10.213.0.0/16")
    h = ImpostorHandler
    h.blob_dir, h.repo, h.tag, h.digest, h.media_type = blob_dir, repo, tag, digest, media_type
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = http.server.ThreadingHTTPServer((bind_ip, int(port)), h)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    emit({"serving": f"{bind_ip}:{port}"})
    stop.wait(SERVE_MAX_S)
    server.shutdown()
    return 0


# ---- posts ---------------------------------------------------------------------------------


def cmd_posts(argv):
    with open(argv[0]) as f:
        spec = json.load(f)[:MAX_POSTS]
    statuses = []
    for req in spec:
        u = urllib.parse.urlsplit(req["url"])
        if u.scheme != "http" or not in_test_range(u.hostname or ""):
            return nsclient._refuse(f"only http:// URLs in 10.213.0.0/16: {req['url']}")
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3.0)
        try:
            target = u.path + ("?" + u.query if u.query else "")
            conn.request("POST", target, body=req.get("body", "").encode(),
                         headers=req.get("headers", {}))
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        except (OSError, http.client.HTTPException):
            statuses.append(None)
        finally:
            conn.close()
    emit({"statuses": statuses})
    return 0


# ---- flood ---------------------------------------------------------------------------------


def cmd_flood(argv):
    ip, port, count, body_bytes, seconds = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), \
        float(argv[4])
    if not in_test_range(ip):
        return nsclient._refuse("target must be in 10.213.0.0/16")
    count = min(count, MAX_CONNECTIONS)
    seconds = min(seconds, MAX_FLOOD_S)
    head = ("POST /cluster/v1/announce HTTP/1.1\r\nHost: x\r\nX-Spegel-Node: flood\r\n"
            f"X-Spegel-Registry-Port: 5000\r\nContent-Length: {body_bytes}\r\n\r\n").encode()
    piece = b"+" * 65536
    socks, sent, answers, dead = [], [], {}, set()
    try:
        for _ in range(count):
            s = socket.create_connection((ip, port), timeout=5.0)
            s.sendall(head)
            s.setblocking(False)
            socks.append(s)
            sent.append(0)
        emit({"opened": len(socks)})
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for i, s in enumerate(socks):
                if i not in answers:
                    try:
                        data = s.recv(4096)
                        answers[i] = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
                    except BlockingIOError:
                        pass
                    except OSError:
                        answers[i] = -1
                left = body_bytes - 1 - sent[i]
                if i in dead or left <= 0:
                    continue
                try:
                    sent[i] += s.send(piece[:left])
                except BlockingIOError:
                    pass
                except OSError:  # the server closed a refused connection
                    dead.add(i)
            time.sleep(0.02)
        statuses = {}
        for i in range(len(socks)):
            key = str(answers[i]) if i in answers else "null"
            statuses[key] = statuses.get(key, 0) + 1
        emit({"statuses": statuses, "sent_bytes": sum(sent)})
    finally:
        for s in socks:
            s.close()
    return 0


# ---- mdns ----------------------------------------------------------------------------------


def _name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _rr(name, rtype, rdata, ttl=120, flush=False):
    rclass = 1 | (0x8000 if flush else 0)
    return _name(name) + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def _txt(pairs):
    out = b""
    for p in pairs:
        raw = p.encode()
        out += bytes([len(raw)]) + raw
    return out


def _instance_records(node_id, address, registry=5000, router=5001):
    inst = f"{node_id}.{SERVICE}"
    host = f"{node_id}.local"
    inc = str(int(time.time() * 1000))
    return [
        _rr(SERVICE, 12, _name(inst)),
        _rr(inst, 33, struct.pack(">HHH", 0, 0, registry) + _name(host), flush=True),
        _rr(inst, 16, _txt(["v=1", f"id={node_id}", f"inc={inc}", f"registry={registry}",
                            f"router={router}"]), flush=True),
        _rr(host, 1, socket.inet_aton(address), flush=True),
    ]


def cmd_mdns(argv):
    bind_ip, count, per_packet, unowned, seconds = argv[0], int(argv[1]), int(argv[2]), \
        argv[3], float(argv[4])
    if not in_test_range(bind_ip) or not in_test_range(unowned):
        return nsclient._refuse("addresses must be in 10.213.0.0/16")
    count = min(count, MAX_INSTANCES)
    per_packet = max(1, min(per_packet, 16))
    ids = [f"atk-m{i:05d}" for i in range(count)]
    packets = []
    for first in range(0, count, per_packet):
        records = []
        for i in range(first, min(first + per_packet, count)):
            records += _instance_records(ids[i], unowned if i == count - 1 else bind_ip)
        header = struct.pack(">HHHHHH", 0, 0x8400, 0, len(records), 0, 0)
        packets.append(header + b"".join(records))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind_ip, MDNS_PORT))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(bind_ip))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        gap = seconds / max(1, len(packets))
        started = time.monotonic()
        for n, p in enumerate(packets):
            s.sendto(p, (MDNS_GROUP, MDNS_PORT))
            delay = started + (n + 1) * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        s.close()
    emit({"packets": len(packets), "instances": count, "unowned_id": ids[-1],
          "largest_packet": max(len(p) for p in packets)})
    return 0


def main():
    if nsclient._has_default_route():
        return nsclient._refuse("this namespace has a default route (root namespace?)")
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, argv = sys.argv[1], sys.argv[2:]
    commands = {"serve": (cmd_serve, 7), "posts": (cmd_posts, 1), "flood": (cmd_flood, 5),
                "mdns": (cmd_mdns, 5)}
    if cmd not in commands or len(argv) != commands[cmd][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[cmd][0](argv)


if __name__ == "__main__":
    sys.exit(main())
