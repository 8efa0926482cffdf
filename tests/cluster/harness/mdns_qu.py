#!/usr/bin/python3
"""One mDNS PTR query for `_spegel._tcp.local` from port 5353, run INSIDE a test namespace:
`ip netns exec NS python3 mdns_qu.py IP qu|qm SECONDS`.

The socket never joins the mDNS group, so only unicast replies reach it: with `qu` (the QU bit,
RFC 6762 §5.4) the responders must answer it by unicast; with `qm` they answer by multicast, which
it does not see. Multicasts only on the interface that has IP; refuses to run where a default
route exists or for an IP outside the test range. Prints {"replies": [{"from", "bytes",
"ids": [the TXT id= values]}]} and exits 0.
"""

import ipaddress
import json
import re
import socket
import struct
import sys
import time

import nsclient

GROUP = "224.0.0.251"
PORT = 5353


def query(qu):
    header = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0)
    name = b"".join(bytes([len(p)]) + p for p in (b"_spegel", b"_tcp", b"local")) + b"\0"
    return header + name + struct.pack("!HH", 12, 0x8001 if qu else 0x0001)


def node_ids(packet):
    """The `id=` values of the TXT records in the packet (names are compressed; TXT is not)."""
    return sorted({m.decode() for m in re.findall(rb"id=([A-Za-z0-9._-]+)", packet)})


def main():
    if nsclient._has_default_route():
        print(json.dumps({"refused": "default route present"}))
        return 3
    ip, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if ipaddress.ip_address(ip) not in ipaddress.ip_network("10.213.0.0/16"):
        print(json.dumps({"refused": f"{ip} is outside the test range"}))
        return 3
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", PORT))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.sendto(query(mode == "qu"), (GROUP, PORT))
    replies = []
    deadline = time.monotonic() + seconds
    while len(replies) < 64:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, (src, _) = s.recvfrom(9000)
        except socket.timeout:
            break
        if src == ip:
            continue
        replies.append({"from": src, "bytes": len(data), "ids": node_ids(data)})
    print(json.dumps({"replies": replies}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
