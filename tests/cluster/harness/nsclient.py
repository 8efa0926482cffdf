#!/usr/bin/python3
"""HTTP client run INSIDE a test network namespace (`ip netns exec NS python3 nsclient.py ...`).

It refuses to run where a default route exists (that is the root namespace, whose default route
leaves the machine) and refuses any host outside loopback and the test range 10.213.0.0/16, so a
mistake in a test can never send traffic off the machine.

Commands (all print one JSON object on stdout; connection errors are reported as {"error": ...}
with exit code 0, refusals exit 3):
  request METHOD URL [-H 'K: V']... [--data TEXT] [--timeout S] [--max-body N] [--no-hash]
      -> {"status", "headers" (lower-case keys), "body" (text, first --max-body bytes),
          "bytes" (total body length), "sha256" (of the whole body), "ttfb_ms", "elapsed_ms"}
  repeat METHOD URL COUNT [-H ...] [--timeout S]
      COUNT requests on one keep-alive connection (reconnects if the server closes it);
      -> {"statuses": {code: n}, "latencies_ms": [...], "errors": n}
  dns NAME SERVER_IP [--port P] [--timeout S]
      one A query over UDP -> {"rcode", "addresses": [...]} or {"error"}
"""

import argparse
import hashlib
import http.client
import ipaddress
import json
import random
import socket
import struct
import sys
import time
import urllib.parse

ALLOWED = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
           ipaddress.ip_network("10.213.0.0/16")]


def _has_default_route():
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if len(parts) > 7 and parts[1] == "00000000" and parts[7] == "00000000":
                    return True
        with open("/proc/net/ipv6_route") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "0" * 32 and parts[1] == "00" and parts[9] != "lo":
                    return True
    except OSError:
        return True
    return False


def _check_target(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise SystemExit(_refuse(f"only http://IP URLs: {url}"))
    try:
        ip = ipaddress.ip_address(u.hostname)
    except ValueError:
        raise SystemExit(_refuse(f"host must be an IP literal: {url}"))
    if not any(ip in n for n in ALLOWED):
        raise SystemExit(_refuse(f"host outside loopback and 10.213.0.0/16: {url}"))
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, u.port or 80, path


def _refuse(msg):
    print(json.dumps({"refused": msg}))
    return 3


def _headers(pairs):
    out = {}
    for p in pairs or []:
        k, _, v = p.partition(":")
        out[k.strip()] = v.strip()
    return out


def cmd_request(a):
    host, port, path = _check_target(a.url)
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=a.timeout)
    try:
        body = a.data.encode() if a.data is not None else None
        conn.request(a.method, path, body=body, headers=_headers(a.header))
        resp = conn.getresponse()
        ttfb = time.monotonic() - start
        h = hashlib.sha256()
        kept = bytearray()
        total = 0
        if a.method != "HEAD":
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
                if not a.no_hash:
                    h.update(chunk)
                if len(kept) < a.max_body:
                    kept += chunk[:a.max_body - len(kept)]
        elapsed = time.monotonic() - start
        print(json.dumps({"status": resp.status,
                          "headers": {k.lower(): v for k, v in resp.getheaders()},
                          "body": kept.decode("utf-8", "replace"), "bytes": total,
                          "sha256": None if a.no_hash else "sha256:" + h.hexdigest(),
                          "ttfb_ms": ttfb * 1000, "elapsed_ms": elapsed * 1000}))
    except (OSError, http.client.HTTPException) as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}",
                          "elapsed_ms": (time.monotonic() - start) * 1000}))
    finally:
        conn.close()
    return 0


def cmd_repeat(a):
    host, port, path = _check_target(a.url)
    headers = _headers(a.header)
    statuses, lat, errors = {}, [], 0
    conn = None
    for _ in range(a.count):
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=a.timeout)
        t0 = time.monotonic()
        try:
            conn.request(a.method, path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            lat.append((time.monotonic() - t0) * 1000)
            statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    print(json.dumps({"statuses": statuses, "latencies_ms": lat, "errors": errors}))
    return 0


def _skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def cmd_dns(a):
    ip = ipaddress.ip_address(a.server)
    if not any(ip in n for n in ALLOWED):
        return _refuse(f"DNS server outside the test range: {a.server}")
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in a.name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(a.timeout)
        try:
            s.sendto(q, (a.server, a.port))
            msg, _ = s.recvfrom(4096)
        except OSError as e:
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
            return 0
    try:
        rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
        off = 12
        for _ in range(qd):
            off = _skip_name(msg, off) + 4
        addrs = []
        for _ in range(an):
            off = _skip_name(msg, off)
            rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(msg[off:off + 4]))
            off += rdlen
    except (struct.error, IndexError) as e:
        print(json.dumps({"error": f"malformed answer: {e}"}))
        return 0
    print(json.dumps({"id_ok": rid == qid, "rcode": flags & 0xF, "addresses": sorted(addrs)}))
    return 0


def main():
    if _has_default_route():
        return _refuse("this namespace has a default route (root namespace?): not sending")
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request")
    r.add_argument("method")
    r.add_argument("url")
    r.add_argument("-H", "--header", action="append")
    r.add_argument("--timeout", type=float, default=5.0)
    r.add_argument("--max-body", type=int, default=1 << 20)
    r.add_argument("--no-hash", action="store_true", help="skip sha256 (throughput runs)")
    r.add_argument("--data", help="request body (text)")
    p = sub.add_parser("repeat")
    p.add_argument("method")
    p.add_argument("url")
    p.add_argument("count", type=int)
    p.add_argument("-H", "--header", action="append")
    p.add_argument("--timeout", type=float, default=5.0)
    d = sub.add_parser("dns")
    d.add_argument("name")
    d.add_argument("server")
    d.add_argument("--port", type=int, default=53)
    d.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()
    return {"request": cmd_request, "repeat": cmd_repeat, "dns": cmd_dns}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
