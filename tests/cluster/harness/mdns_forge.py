#!/usr/bin/python3
"""Forges a Spegel mDNS record with python3-zeroconf; run INSIDE the forger's namespace:
`ip netns exec NS python3 mdns_forge.py IP ID INC ADDRESS REGISTRY ROUTER SECONDS`.

Registers the instance `forged-<ID>._spegel._tcp.local.` whose TXT names node ID with
incarnation INC and whose A record says ADDRESS (any address: the record is the sender's word),
multicast only on the interface that has IP; keeps it for SECONDS, then unregisters it, which
multicasts the goodbye (TTL 0) for the same records. Refuses to run where a default route exists.
Prints {"registered": true, "goodbye": true} or {"error": ...}.
"""

import json
import socket
import sys
import time

import nsclient

from zeroconf import IPVersion, ServiceInfo, Zeroconf

SERVICE = "_spegel._tcp.local."


def main():
    if nsclient._has_default_route():
        print(json.dumps({"refused": "default route present"}))
        return 3
    ip, node_id, inc, address, registry, router, seconds = sys.argv[1:8]
    zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
    info = ServiceInfo(SERVICE, f"forged-{node_id}.{SERVICE}",
                       addresses=[socket.inet_aton(address)], port=int(registry),
                       properties={"v": "1", "id": node_id, "inc": inc, "registry": registry,
                                   "router": router},
                       server="forger.local.")
    out = {}
    try:
        zc.register_service(info, allow_name_change=True)
        out["registered"] = True
        time.sleep(float(seconds))
        zc.unregister_service(info)
        out["goodbye"] = True
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        zc.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
