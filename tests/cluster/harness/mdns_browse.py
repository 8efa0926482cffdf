#!/usr/bin/python3
"""Browses `_spegel._tcp.local.` with python3-zeroconf (Debian's, a client nobody here wrote)
for a few seconds; run INSIDE a node namespace: `ip netns exec NS python3 mdns_browse.py IP S`.

Multicasts only on the interface that has IP. Refuses to run where a default route exists (the
root namespace). Prints {instance name: {"port", "addresses", "txt": {k: v}} or null}.
"""

import json
import sys
import time

import nsclient

from zeroconf import IPVersion, ServiceBrowser, Zeroconf

SERVICE = "_spegel._tcp.local."


def main():
    if nsclient._has_default_route():
        print(json.dumps({"refused": "default route present"}))
        return 3
    ip, seconds = sys.argv[1], float(sys.argv[2])
    zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
    names = set()
    try:
        ServiceBrowser(zc, SERVICE, handlers=[lambda zeroconf, service_type, name,
                                              state_change: names.add(name)])
        time.sleep(seconds)
        out = {}
        for name in sorted(names):
            info = zc.get_service_info(SERVICE, name, timeout=2000)
            if info is None:
                out[name] = None
                continue
            out[name] = {"port": info.port, "addresses": info.parsed_addresses(),
                         "txt": {k.decode("utf-8", "replace"):
                                 None if v is None else v.decode("utf-8", "replace")
                                 for k, v in info.properties.items()}}
    finally:
        zc.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
