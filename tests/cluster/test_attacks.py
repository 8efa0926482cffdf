"""Who may speak for the cluster (issue 30): five attacks from a host on the segment that is no
node, once without and once with a peer secret (the attacker never has it).

Three nodes find each other by DNS and mDNS; node1 pulls an image X (tag T from the test
upstream) and two more images. The attacker is a namespace of its own (10.213.x.62, no default
route, no spegel) that reaches the router ports and the mDNS group; its tools are
harness/attack_tools.py and harness/fake_fetcher.py, run inside it. Each attack prints one line
and is followed by a legitimate pull through the peers (the upstream cut where peers alone must
serve):
  1. tag substitution: the attacker serves a different, self-consistent image under T (its own
     manifest, config and layers, its own Docker-Content-Digest), says hello under a made-up id
     and announces T's routing key and its digests to every node. node2 pulls T with the
     upstream cut and must store T with the manifest digest upstream has, never the attacker's.
  2. provider eviction: a layer of X announced under 32 made-up ids with a one-hour TTL to every
     node. node1 must still be a provider of the layer at every owner (at node1's address) and
     in every lookup, and node3 pulls X with the upstream cut.
  3. stalled fetcher: fake_fetcher.py says hello, claims every key of a fresh image at every node
     and stalls whatever it is asked to serve. node2's pull of that image (upstream up) must
     finish within PULL_BOUND_S with every blob intact; a claim is answered `fetch` only if a
     hello of the attacker was taken.
  4. body flood: 300 connections to node2's router port, each the head of a 1 MiB announce and
     then most of its body, never the last byte. node2's VmRSS may grow by at most the router's
     stated bound (32 MiB body budget + 4096 x 16 KiB read buffers = 96 MiB); afterwards node2
     pulls through a peer with the upstream cut.
  5. membership flood: hellos for 100 made-up ids, then mDNS responses announcing 5,000
     instances (625 packets of 8), the last of them with an A record for an address nobody owns.
     On every node: no member at the unowned address, at most one member at the attacker's
     address (one live id per address), the other two nodes still members, at most 3 members in
     all; then node3 pulls through a peer with the upstream cut.
Expected since the hello rules of issue 30: a hello from an address that no configured source
names is refused (403; 401 with a secret), an mDNS member's address is its packet's source, never
its A record, and a new id at an address replaces the old one.
"""

import json
import os
import time
import unittest
from urllib.parse import quote

from harness import cluster as cl
from harness import netns
from itharness import util

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "harness", "attack_tools.py")
FAKE = os.path.join(HERE, "harness", "fake_fetcher.py")
ATTACKER_OCTET = 62
UNOWNED_OCTET = 99
IMPOSTOR_PORT = 5000        # the attacker's registry (attack 1; attack 2's made-up providers)
FAKE_PORT = 5002            # fake_fetcher.py's registry (attack 3)
HELLO_ID = "atk-hello"
EVICT_IDS = 32
PULL_BOUND_S = 60.0
FLOOD_CONNECTIONS = 300
FLOOD_BODY_BYTES = 1 << 20
FLOOD_SECONDS = 6.0         # under the router's 10 s for a request's head and body
RSS_BOUND_KIB = 32 * 1024 + 4096 * 16   # the stated bound: 96 MiB
HELLO_IDS = 100
MDNS_INSTANCES = 5000
MDNS_PER_PACKET = 8
MDNS_SECONDS = 3.0


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def _counts(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


def _json_lines(path):
    try:
        with open(path) as f:
            return [json.loads(ln) for ln in f if ln.strip().startswith("{")]
    except OSError:
        return []


class _Attacks:
    """The five attacks; the concrete classes below say whether the cluster has a secret."""

    SECRET = False
    LABEL = ""

    @classmethod
    def setUpClass(cls):
        if cls.SECRET and not cl.has_flag("--peer-secret-file"):
            raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no --peer-secret-file")
        cls.c = cl.Cluster(nodes=3)
        cls.impostor = cls.fake = None
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.atk_ns = cls.c.segment.attach("ak", ATTACKER_OCTET, multicast=True)
            netns.assert_no_default_route(cls.atk_ns)
            cls.atk_ip = f"{cls.c.subnet}.{ATTACKER_OCTET}"
            cls.unowned_ip = f"{cls.c.subnet}.{UNOWNED_OCTET}"
            cls.x = cls.c.generate("atk-x", layer_sizes=(4000, 120_000))
            cls.x_tag, _ = cls.c.push(cls.x)
            cls.layer = cls.x.platforms["linux/amd64"].layers[1].digest
            # The impostor: another image, never pushed; the attacker serves it under X's tag.
            cls.y = cls.c.generate("atk-y", layer_sizes=(5000, 90_000))
            cls.fresh = cls.c.generate("atk-fresh", layer_sizes=(3 << 20, 3 << 20),
                                       compresslevel=0)
            cls.fresh_tag, _ = cls.c.push(cls.fresh)
            cls.p4 = cls.c.generate("atk-p4", layer_sizes=(3000, 70_000))
            cls.p4_tag, _ = cls.c.push(cls.p4)
            cls.p5 = cls.c.generate("atk-p5", layer_sizes=(3000, 80_000))
            cls.p5_tag, _ = cls.c.push(cls.p5)
            extra = []
            if cls.SECRET:
                secret = os.path.join(cls.c.dir, "peer-secret")
                with open(secret, "w") as f:
                    f.write(os.urandom(24).hex() + "\n")
                os.chmod(secret, 0o600)
                extra = ["--peer-secret-file", secret]
            cls.c.configure_spegels(dns=True, mdns=True, extra=extra)
            cls.c.start_spegels()
            cls.c.wait_members()
            for ref in (cls.x_tag, cls.p4_tag, cls.p5_tag):
                cls.n1.cri_pull(ref)
            # The routing key of T exactly as the nodes announce it ("<registry>/<repo>:<tag>").
            cls.tag_key = f"{cls.c.upstream_addr}/{cls.x.name}:{cls.x.tag}"
            cls.c.wait_providers(cls.n2, cls.tag_key, {"node1"})
            cls.c.wait_providers(cls.n3, cls.layer, {"node1"})
            cls.c.wait_providers(cls.n2, cls.p4.platforms["linux/amd64"].layers[1].digest,
                                 {"node1"})
            cls.c.wait_providers(cls.n3, cls.p5.platforms["linux/amd64"].layers[1].digest,
                                 {"node1"})
            cls.start_impostor()
        except BaseException:
            cls.close_all()
            raise

    @classmethod
    def close_all(cls):
        util.stop_process(cls.fake, term_timeout=5.0)
        util.stop_process(cls.impostor, term_timeout=5.0)
        cls.c.close()

    @classmethod
    def tearDownClass(cls):
        cls.close_all()

    # ---- the attacker's means -----------------------------------------------------------------

    @classmethod
    def start_impostor(cls):
        cls.impostor_out = os.path.join(cls.c.dir, "impostor.out")
        log = os.path.join(cls.c.dir, "impostor.log")
        argv = [netns.PYTHON, TOOLS, "serve", cls.atk_ip, str(IMPOSTOR_PORT),
                os.path.join(cls.y.layout_dir, "blobs", "sha256"), cls.x.name, cls.x.tag,
                cls.y.top.digest, cls.y.top.media_type]
        cls.impostor = util.start_process(netns.exec_prefix(cls.atk_ns) + argv, log,
                                          stdout_path=cls.impostor_out)

        def serving():
            if cls.impostor.poll() is not None:
                raise util.HarnessError(f"impostor registry exited:\n{util.tail(log)}")
            return any("serving" in e for e in _json_lines(cls.impostor_out))
        util.wait_until(serving, 15.0, "the attacker's registry", 0.1)
        # Self-consistent: by tag it answers the impostor's manifest and digest.
        r = netns.http(cls.atk_ns, "GET", f"http://{cls.atk_ip}:{IMPOSTOR_PORT}/v2/{cls.x.name}"
                       f"/manifests/{cls.x.tag}")
        if r.get("sha256") != cls.y.top.digest or \
                r.get("headers", {}).get("docker-content-digest") != cls.y.top.digest:
            raise util.HarnessError(f"impostor registry answers {r}")

    def impostor_requests(self):
        return [e for e in _json_lines(self.impostor_out) if "request" in e]

    def posts(self, requests):
        """POSTs from inside the attacker's namespace; returns their statuses (None: no answer)."""
        spec = os.path.join(self.c.dir, "posts.json")
        with open(spec, "w") as f:
            json.dump(requests, f)
        res = netns.run_in(self.atk_ns, [netns.PYTHON, TOOLS, "posts", spec], timeout=180,
                           check=False)
        lines = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
        if res.returncode != 0 or not lines or "statuses" not in lines[-1]:
            raise util.HarnessError(f"attack_tools posts: {res.stdout[-500:]} {res.stderr[-1000:]}")
        return lines[-1]["statuses"]

    def hello(self, node, node_id, registry_port=IMPOSTOR_PORT):
        return {"url": f"http://{node.ip}:{cl.ROUTER_PORT}/cluster/v1/hello",
                "headers": {"X-Spegel-Node": node_id, "X-Spegel-Registry-Port": str(registry_port)},
                "body": f"id={node_id}\ninc={int(time.time() * 1000)}\nregistry={registry_port}\n"
                        f"router={cl.ROUTER_PORT}\n"}

    def announce(self, node, node_id, body, registry_port=IMPOSTOR_PORT):
        return {"url": f"http://{node.ip}:{cl.ROUTER_PORT}/cluster/v1/announce",
                "headers": {"X-Spegel-Node": node_id, "X-Spegel-Registry-Port": str(registry_port)},
                "body": body}

    def routing(self, node, key):
        return node.metrics_json("/debug/routing?key=" + quote(key, safe=""))

    def peer_pull(self, node, ref, image):
        """`node` pulls `ref` with the upstream cut (only peers can serve); returns None or the
        failure as text. Every blob of the image must then be in its content store, intact."""
        self.c.cut_upstream()
        try:
            node.cri_pull(ref, timeout=90)
        except util.HarnessError as e:
            return f"pull failed: {str(e)[:800]}"
        finally:
            self.c.restore_upstream()
        for b in image.blobs_for_platform().values():
            if not node.has_blob(b.digest):
                return f"{node.name} lacks {b.kind} {b.digest}"
            if "sha256:" + cl.sha256_file(node.ctd.blob_path(b.digest)) != b.digest:
                return f"{node.name} has a corrupt {b.kind} {b.digest}"
        return None

    def say(self, n, what, text):
        print(f"      [attack {n}: {what}{self.LABEL}] {text}", flush=True)

    # ---- the attacks ---------------------------------------------------------------------------

    def test_1_tag_substitution(self):
        asked_before = len(self.impostor_requests())  # start_impostor's own check
        hellos = self.posts([self.hello(n, HELLO_ID) for n in self.c.nodes])
        keys = [self.tag_key] + sorted(self.y.blobs_for_platform())
        body = "ttl=600000\n" + "".join(f"+{k}\n" for k in keys)
        announces = self.posts([self.announce(n, HELLO_ID, body) for n in self.c.nodes])
        failure = self.peer_pull(self.n2, self.x_tag, self.x)
        stored = self.n2.ctd.images().get(self.x_tag, (None,))[0]
        asked = [e["path"].split("?")[0] for e in self.impostor_requests()[asked_before:]]
        # Only now the owners' tables and a live lookup (a lookup can mark an owner avoided).
        held = sum(1 for n in self.c.nodes
                   if any(p.get("address") == self.atk_ip
                          for p in self.routing(n, self.tag_key).get("local_entries", [])))
        doc = self.routing(self.n2, self.tag_key)
        handed = sorted(f"{p.get('node_id')}@{p.get('address')}" for p in doc.get("providers", []))
        self.say(1, "tag substitution",
                 f"hello statuses {hellos}, announce statuses {announces}; the attacker's entry "
                 f"for T held at {held} of 3 nodes; node2 stored T as {stored} (upstream "
                 f"{self.x.top.digest[:19]}, attacker {self.y.top.digest[:19]}); the attacker's "
                 f"registry was asked {len(asked)} times {sorted(set(asked))[:4]}; node2's lookup "
                 f"of T afterwards: {handed} (untrusted tag providers dropped: "
                 f"{doc['stats'].get('untrusted_tag_providers')}); peer pull: {failure or 'ok'}")
        self.assertNotEqual(stored, self.y.top.digest, "node2 took the attacker's manifest for T")
        self.assertEqual(stored, self.x.top.digest, f"{failure}\n{self.c.logs()}")
        self.assertIsNone(failure, self.c.logs())
        self.assertFalse([h for h in handed if h.endswith("@" + self.atk_ip)],
                         "node2's lookup of T hands out the attacker")

    def test_2_provider_eviction(self):
        ids = [f"atk-evict-{i:02d}" for i in range(EVICT_IDS)]
        body = f"ttl=3600000\n+{self.layer}\n"
        statuses = self.posts([self.announce(n, i, body) for i in ids for n in self.c.nodes])
        owners = set()
        for n in self.c.nodes:
            owners |= set(self.routing(n, self.layer).get("owners", []))
        real_owners = [n for n in self.c.nodes if n.name in owners]
        at_owners = {}
        for n in real_owners:
            entries = self.routing(n, self.layer).get("local_entries", [])
            at_owners[n.name] = {
                "node1": sorted({p["address"] for p in entries if p["node_id"] == "node1"}),
                "made_up": sum(1 for p in entries if p["node_id"] in ids),
                "entries": len(entries),
                "stranger_drops": self.routing(n, self.layer)["stats"].get("stranger_drops")}
        lookups, answers = {}, {}
        for n in (self.n2, self.n3):
            found = self.routing(n, self.layer).get("providers", [])
            lookups[n.name] = sorted({p.get("address") for p in found
                                      if p.get("node_id") == "node1"})
            answers[n.name] = {"providers": len(found),
                               "made_up": sum(1 for p in found if p.get("node_id") in ids),
                               "avoided": sorted(m["node_id"] for m in n.metrics_json(
                                   "/debug/members")["members"] if m.get("avoided"))}
        failure = self.peer_pull(self.n3, self.x_tag, self.x)
        self.say(2, "provider eviction",
                 f"{len(ids)} ids x 3 nodes announced, statuses {_counts(statuses)}; owners "
                 f"{sorted(owners)}: {at_owners}; lookups of node1: {lookups} (in all {answers}); "
                 f"node3's peer "
                 f"pull: {failure or 'ok'}")
        self.assertGreaterEqual(len(real_owners), 2, owners)
        for name, seen in at_owners.items():
            # At node1 itself its own entry carries no address ("": this node).
            allowed = {self.n1.ip} | ({""} if name == "node1" else set())
            self.assertTrue(seen["node1"] and set(seen["node1"]) <= allowed,
                            f"owner {name} lost node1: {seen}")
        for name, addrs in lookups.items():
            self.assertEqual(addrs, [self.n1.ip], f"{name}'s lookup")
        self.assertIsNone(failure, self.c.logs())

    def test_3_stalled_fetcher(self):
        keys = sorted(self.fresh.blobs_for_platform())
        out = os.path.join(self.c.dir, "fake_fetcher.out")
        log = os.path.join(self.c.dir, "fake_fetcher.log")
        argv = [netns.PYTHON, FAKE, self.atk_ip, "atk-fetcher",
                os.path.join(self.fresh.layout_dir, "blobs", "sha256"),
                ",".join(n.ip for n in self.c.nodes), ",".join(keys),
                "--registry-port", str(FAKE_PORT), "--router-port", str(cl.ROUTER_PORT)]
        type(self).fake = util.start_process(netns.exec_prefix(self.atk_ns) + argv, log,
                                             stdout_path=out)
        try:
            def claimed():
                if self.fake.poll() is not None:
                    raise util.HarnessError(f"fake fetcher exited:\n{util.tail(log)}")
                return any("claims_done" in e for e in _json_lines(out))
            util.wait_until(claimed, 30.0, "the fake fetcher's claims", 0.1)
            time.sleep(1.5)  # its false progress has reached every node at least once
            t0 = time.monotonic()
            failure = None
            try:
                self.n2.cri_pull(self.fresh_tag, timeout=PULL_BOUND_S + 60)
            except util.HarnessError as e:
                failure = f"pull failed: {str(e)[:800]}"
            took = time.monotonic() - t0
        finally:
            util.stop_process(self.fake, term_timeout=5.0)
            type(self).fake = None
        events = _json_lines(out)
        hellos = [e["status"] for e in events if "hello" in e]
        claims = [(e.get("status"), e.get("answer") if e.get("status") == 200 else None)
                  for e in events if "claim" in e]
        served = [e for e in events if "served" in e]
        stats = {}
        for n in self.c.nodes:
            for k, v in n.metrics_json("/debug/routing").get("claims", {}).items():
                stats[k] = stats.get(k, 0) + v
        self.say(3, "stalled fetcher",
                 f"the fake's hellos {hellos}, its {len(claims)} claims answered "
                 f"{_counts(f'{s} {a}' if a else str(s) for s, a in claims)}; node2's pull "
                 f"took {took:.1f}s (bound {PULL_BOUND_S:.0f}s), {failure or 'ok'}; the fake "
                 f"served {len(served)} GETs; owners' claims "
                 f"{ {k: stats.get(k, 0) for k in ('strangers', 'complaints', 'banned')} }")
        self.assertIsNone(failure, self.c.logs(max_bytes=4000))
        self.assertLess(took, PULL_BOUND_S)
        for b in self.fresh.blobs_for_platform().values():
            self.assertTrue(self.n2.has_blob(b.digest), f"node2 lacks {b.kind} {b.digest}")
            self.assertEqual("sha256:" + cl.sha256_file(self.n2.ctd.blob_path(b.digest)),
                             b.digest)
        if 200 not in hellos:
            # Never a member: its claims are declined (or refused), never answered `fetch`.
            self.assertNotIn((200, "fetch"), claims)
        if self.SECRET:
            self.assertEqual(set(hellos), {401}, hellos)
            self.assertEqual({s for s, _ in claims}, {401}, claims)

    def test_4_body_flood(self):
        node = self.n2
        pid = node.spegel.proc.pid
        before = _rss_kib(pid)
        out = os.path.join(self.c.dir, "flood.out")
        argv = [netns.PYTHON, TOOLS, "flood", node.ip, str(cl.ROUTER_PORT),
                str(FLOOD_CONNECTIONS), str(FLOOD_BODY_BYTES), str(FLOOD_SECONDS)]
        proc = util.start_process(netns.exec_prefix(self.atk_ns) + argv,
                                  os.path.join(self.c.dir, "flood.log"), stdout_path=out)
        peak = before
        deadline = time.monotonic() + FLOOD_SECONDS + 30
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                peak = max(peak, _rss_kib(pid))
                time.sleep(0.05)
        finally:
            code = util.stop_process(proc, term_timeout=5.0)
        events = _json_lines(out)
        opened = next((e["opened"] for e in events if "opened" in e), None)
        result = next((e for e in events if "statuses" in e), {})
        time.sleep(1.0)
        after = _rss_kib(pid)
        failure = self.peer_pull(node, self.p4_tag, self.p4)
        self.say(4, "body flood",
                 f"{opened} connections to {node.name}:{cl.ROUTER_PORT}, "
                 f"{result.get('sent_bytes', 0) >> 20} MiB of bodies sent, answers "
                 f"{result.get('statuses')}; VmRSS {before} -> peak {peak} KiB (+{peak - before}, "
                 f"bound +{RSS_BOUND_KIB}), {after} KiB 1 s after closing; {node.name}'s peer "
                 f"pull: {failure or 'ok'}")
        self.assertEqual(code, 0, util.tail(os.path.join(self.c.dir, "flood.log")))
        self.assertEqual(opened, FLOOD_CONNECTIONS, events)
        self.assertLessEqual(peak - before, RSS_BOUND_KIB)
        self.assertTrue(node.spegel.running(), node.spegel.log_tail())
        self.assertIsNone(failure, self.c.logs())

    def test_5_membership_flood(self):
        ids = [f"atk-h{i:03d}" for i in range(HELLO_IDS)]
        hellos = self.posts([self.hello(n, i) for i in ids for n in self.c.nodes])
        res = netns.run_in(self.atk_ns, [netns.PYTHON, TOOLS, "mdns", self.atk_ip,
                                         str(MDNS_INSTANCES), str(MDNS_PER_PACKET),
                                         self.unowned_ip, str(MDNS_SECONDS)],
                           timeout=MDNS_SECONDS + 60, check=False)
        sent = next((json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")), {})
        self.assertEqual(sent.get("instances"), MDNS_INSTANCES, f"{res.stdout} {res.stderr}")
        time.sleep(2.0)  # the nodes have read every packet
        views = {}
        for n in self.c.nodes:
            members = n.metrics_json("/debug/members")["members"]
            views[n.name] = {
                "members": len(members),
                "real": sorted(m["node_id"] for m in members
                               if m["node_id"] in {x.name for x in self.c.nodes}),
                "at_attacker": sorted(m["node_id"] for m in members
                                      if self.atk_ip in m["addresses"]),
                "at_unowned": sorted(m["node_id"] for m in members
                                     if self.unowned_ip in m["addresses"]),
            }
        failure = self.peer_pull(self.n3, self.p5_tag, self.p5)
        shown = {name: {"members": v["members"], "at_attacker": len(v["at_attacker"]),
                        "at_unowned": len(v["at_unowned"]), "real": v["real"]}
                 for name, v in views.items()}
        self.say(5, "membership flood",
                 f"{HELLO_IDS} ids x 3 nodes hello'd, statuses {_counts(hellos)}; "
                 f"{sent.get('packets')} mDNS packets ({sent.get('instances')} instances, the "
                 f"last, {sent.get('unowned_id')}, at {self.unowned_ip}); members per node "
                 f"{shown}; at the attacker's address: "
                 f"{ {k: v['at_attacker'][:3] for k, v in views.items()} }; node3's peer pull: "
                 f"{failure or 'ok'}")
        # No discovery source names the attacker's address: every hello is refused (403), or
        # not even read without the secret's signature (401).
        self.assertEqual(set(hellos), {401 if self.SECRET else 403}, _counts(hellos))
        for n in self.c.nodes:
            self.assertGreaterEqual(
                n.metrics_json("/debug/members")["self"]["unlisted_refused"],
                0 if self.SECRET else HELLO_IDS, n.name)
        for n in self.c.nodes:
            v = views[n.name]
            others = sorted(x.name for x in self.c.nodes if x is not n)
            self.assertEqual(v["at_unowned"], [], f"{n.name}: members at {self.unowned_ip}")
            self.assertLessEqual(len(v["at_attacker"]), 1, f"{n.name}: {v['at_attacker'][:10]}")
            self.assertEqual(v["real"], others, n.name)
            self.assertLessEqual(v["members"], 3, f"{n.name}: {shown[n.name]}")
        self.assertIsNone(failure, self.c.logs())


class AttacksWithoutSecretTest(_Attacks, unittest.TestCase):
    SECRET = False
    LABEL = ", no secret"


class AttacksWithSecretTest(_Attacks, unittest.TestCase):
    SECRET = True
    LABEL = ", peer secret"


if __name__ == "__main__":
    unittest.main()
