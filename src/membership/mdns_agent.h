// mDNS / DNS-SD membership (RFC 6762, RFC 6763): each node announces itself as an instance of
// `_spegel._tcp.local` on the interfaces it was told to use, answers queries for it, and reports
// the other instances it hears. The records and the rules for received ones are MdnsProtocol's
// (membership/mdns_protocol.h); this file holds the sockets and timers around it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "loop/handle.h"
#include "loop/loop.h"
#include "membership/mdns_protocol.h"
#include "membership/member.h"

namespace spegel::cluster {

struct MdnsOptions {
  std::vector<std::string> interfaces;    // names, e.g. {"eth0"}; empty = the agent does nothing
  uint16_t port = 5353;                   // tests may use another port
  std::string group_v4 = "224.0.0.251";   // ff02::fb is used where the interface has IPv6
  uint64_t announce_interval_ms = 20000;  // periodic unsolicited announcement
  uint32_t ttl_s = 120;                   // record TTL we announce; members expire after it
  // Interface addresses are read again this often (DHCP at the edge changes them).
  uint64_t address_check_interval_ms = 5000;
};

// The agent: one IPv4 UDP socket per configured interface (and one IPv6 socket where the
// interface has an IPv6 address, best effort), bound to the mDNS port with SO_REUSEADDR and
// SO_REUSEPORT so other responders on the host keep working, joined to the group on that
// interface only (IP_MULTICAST_ALL off, so a socket hears only its own interface's group traffic).
// Announces 3 times 1 s apart at start, then every announce_interval_ms; sends one query at start
// so existing members answer at once; answers queries after 20-120 ms, at most once per second
// per interface (RFC 6762 §6); legacy unicast replies are limited to 20 per second.
// Interface addresses are read in Start() and again every address_check_interval_ms: when an
// interface's addresses change, the agent announces the new ones on it at once (its A/AAAA
// records carry the cache-flush bit, so other responders drop the old ones) and tells the
// address listener.
//
// Ownership and threading: owned by its creator; every method runs on the loop thread (Start and
// Stop assert it), and on_member runs there too. It owns its uv handles (UDP sockets and timers,
// each freed from its close callback, all in one HandleGroup: loop/handle.h). Destroying a
// started agent without Stop() (or before Stop's done) closes the sockets without a goodbye;
// on_member must not destroy the agent (it may call Stop()).
class MdnsAgent {
 public:
  // Runs on the loop thread for every valid _spegel._tcp instance seen (not self), each time it
  // is announced: ttl_s == 0 means goodbye. `from` is the packet's source address (the record's
  // own addresses are the sender's word; Membership binds members to where packets come from).
  // Never runs inline from Start() or Stop(). Packets from the unspecified address are dropped.
  using OnMember =
      std::function<void(const MemberInfo& info, uint32_t ttl_s, const std::string& from)>;

  MdnsAgent(Loop* loop, MdnsOptions options, MemberInfo self, OnMember on_member);
  ~MdnsAgent();
  MdnsAgent(const MdnsAgent&) = delete;
  MdnsAgent& operator=(const MdnsAgent&) = delete;

  // Opens the sockets and starts announcing. Call once. An error names the interface that does
  // not exist or has no IPv4 address, or the socket call that failed; then nothing stays open.
  Status Start();
  // Sends the goodbye on each interface, closes every handle; `done` runs on the loop thread from
  // the last close callback (also when there was nothing to close), never inline, and may destroy
  // the agent. Call once.
  void Stop(std::function<void()> done);

  const MdnsProtocol& protocol() const { return protocol_; }

  // Runs on the loop thread, from the address check, when an interface's addresses changed,
  // just before the new ones are announced: it may call SetSelf (a new incarnation goes out with
  // them), and must not Stop() or destroy the agent. Replaces any previous one.
  void SetAddressListener(std::function<void()> listener) {
    address_listener_ = std::move(listener);
  }
  // What this node announces from now on. REQUIRES: the same node_id (a new id needs a new
  // agent: the old name's goodbye goes first).
  void SetSelf(MemberInfo self) {
    protocol_ = MdnsProtocol(std::move(self), options_.port, options_.ttl_s);
  }

 private:
  struct Socket;
  struct Interface {
    std::string name;
    unsigned index = 0;
    std::vector<std::string> addresses;  // IPv4 first
    Socket* v4 = nullptr;                // in sockets_; null once closed
    Socket* v6 = nullptr;
    uint64_t last_multicast_ms = 0;
    bool multicast_sent = false;
    std::unique_ptr<Timer> reply_timer;
  };

  Status OpenInterface(Interface* iface, const std::vector<std::string>& v4,
                       const std::vector<std::string>& v6);
  Result<Socket*> OpenSocket(Interface* iface, bool v6);
  // Closes every socket in sockets_ (each frees itself from its close callback).
  void CloseSockets();
  void Tick();
  // Reads the configured interfaces' addresses again; announces and reports a change.
  void CheckAddresses();
  void Multicast(Interface* iface, const std::string& payload);
  void ScheduleAnswer(Interface* iface);
  void OnDatagram(Socket* socket, std::string_view data, const sockaddr* from);
  void LogRejected(const std::vector<std::string>& reasons);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags);

  Loop* loop_;
  MdnsOptions options_;
  MdnsProtocol protocol_;
  OnMember on_member_;
  // Every socket and timer below, until its close callback has run: what Stop's done waits for.
  HandleGroup handles_;
  std::vector<std::unique_ptr<Interface>> interfaces_;
  // The open sockets; a socket leaves when it is closed and frees itself from its close callback.
  std::vector<Socket*> sockets_;
  std::unique_ptr<Timer> announce_timer_;
  std::unique_ptr<Timer> address_timer_;
  std::function<void()> address_listener_;
  int announcements_sent_ = 0;
  bool stopped_ = false;
  uint64_t unicast_window_start_ms_ = 0;
  int unicast_in_window_ = 0;
  uint64_t last_reject_log_ms_ = 0;
  uint64_t rejects_suppressed_ = 0;
  bool reject_logged_ = false;
  char recv_buffer_[9000];
};

}  // namespace spegel::cluster
