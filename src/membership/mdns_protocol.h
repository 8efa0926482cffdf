// The mDNS / DNS-SD records of Spegel's membership (RFC 6762, RFC 6763): what a node announces
// as an instance of `_spegel._tcp.local`, which queries it answers, and which received instances
// count as members. Packets only; MdnsAgent (membership/mdns_agent.h) sends and receives them.
//
// What a node publishes (all records with the configured TTL; TTL 0 in the goodbye):
//   PTR  _spegel._tcp.local            -> <node id>._spegel._tcp.local   (shared)
//   PTR  _services._dns-sd._udp.local  -> _spegel._tcp.local             (shared, for browsers)
//   SRV  <node id>._spegel._tcp.local  -> 0 0 <registry port> <host>     (cache-flush)
//   TXT  <node id>._spegel._tcp.local  "v=1" "id=<node id>" "inc=<incarnation>"
//                                      "registry=<port>" "router=<port>" (cache-flush)
//   A / AAAA <host>                    the interface's own addresses     (cache-flush)
// The instance label is the node id as one label (a '.' in it is part of the label). The host is
// "spegel-<node id>.local" when the node id is a valid host label of at most 56 bytes; otherwise
// the id with every character outside [A-Za-z0-9-] replaced by '-', cut to 48 bytes, plus "-" and
// 8 hex digits of a hash of the id (two ids never share a host name by accident).
//
// A received instance becomes a member only if its TXT has v=1, a valid id (IsValidNodeId),
// a decimal inc, and registry and router ports in 1..65535; the first occurrence of a key counts
// (RFC 6763 §6.4). Addresses are the A/AAAA records of the SRV target in the same packet (IPv4
// first, at most 8, IPv6 link-local skipped); with none, the packet's source address.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "membership/dns_message.h"
#include "membership/member.h"

namespace spegel::cluster {

inline constexpr std::string_view kMdnsServiceName = "_spegel._tcp.local";
inline constexpr std::string_view kDnsSdServicesName = "_services._dns-sd._udp.local";
// A received TTL above this is treated as this (a peer cannot pin itself for days).
inline constexpr uint32_t kMdnsMaxTtlS = 4500;

// Builds our packets and interprets received ones: everything of mDNS but the sockets (those
// are MdnsAgent's, membership/mdns_agent.h). Pure; thread-compatible.
class MdnsProtocol {
 public:
  // `mdns_port`: a query from any other source port is a "legacy unicast" query (RFC 6762 §6.7).
  MdnsProtocol(MemberInfo self, uint16_t mdns_port, uint32_t ttl_s);

  const std::string& instance_name() const { return instance_; }
  const std::string& host_name() const { return host_; }

  // Our full record set for one interface whose addresses are `addresses` (IP literals; bad ones
  // are skipped). ttl_s == 0 builds the goodbye.
  std::string Announcement(const std::vector<std::string>& addresses, uint32_t ttl_s) const;
  // A PTR query for _spegel._tcp.local (multicast response requested).
  std::string Query() const;

  struct Outcome {
    Status error;  // the datagram is not a DNS message (then nothing else is set)
    // Valid instances of others announced in a response; ttl 0 = goodbye. Self is left out.
    std::vector<std::pair<MemberInfo, uint32_t>> members;
    // Why other instances in the packet were ignored, one line each (for a rate-limited log).
    std::vector<std::string> rejected;
    // A query asked for something we publish (and did not list it as a known answer): multicast
    // Announcement() on the interface it came from.
    bool multicast_answer = false;
    // A legacy query (not from port 5353) or a QU question (RFC 6762 §5.4): this reply goes to
    // the source address and port. Empty: none.
    std::string unicast_reply;
  };
  // `addresses`: the receiving interface's addresses (used in a unicast reply).
  Outcome Handle(std::string_view datagram, std::string_view source_ip, uint16_t source_port,
                 const std::vector<std::string>& addresses) const;

 private:
  // Our records; for a legacy unicast reply to `query`: its id and questions, TTL <= 10 s and no
  // cache-flush bits (RFC 6762 §6.7).
  std::string Response(const std::vector<std::string>& addresses, uint32_t ttl_s,
                       const dns::Message* legacy_query) const;

  MemberInfo self_;
  uint16_t mdns_port_;
  uint32_t ttl_s_;
  std::string instance_;
  std::string host_;
};

}  // namespace spegel::cluster
