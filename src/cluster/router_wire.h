// The router API's wire format: the paths and bodies nodes exchange on --router-addr.
//
// HTTP/1.1; every body is text; with a peer secret every request carries X-Spegel-Auth (see
// peer_auth.h), and one without a valid one gets 401:
//
//   POST /cluster/v1/announce          the sender's key changes
//        X-Spegel-Node: <node id>      X-Spegel-Registry-Port: <port>
//        body:  "ttl=<ms>\n" then one line per key: "+<key>" (add/refresh) or "-<key>" (remove)
//        → 204; 400 (malformed, over kMaxAnnounceKeys lines or 1 MiB, bad sender) with a reason
//        The provider registered is always <TCP peer address>:<X-Spegel-Registry-Port>: a node
//        can only announce itself.
//   GET  /cluster/v1/lookup?key=<percent-encoded key>
//        → 200 text/plain, one "<node id> <ip> <registry port>" line per provider; 404 if none
//   POST /cluster/v1/hello             body: FormatHello of the sender (membership/hello.h)
//        → 200 with FormatHello of the receiver. The sender becomes a member at its TCP peer
//        address (never an address from the body).
//   POST /cluster/v1/claim             pull coalescing (claim_table.h), to the key's primary owner
//        X-Spegel-Node, X-Spegel-Registry-Port as for announce (the asker is <TCP peer>:<port>)
//        body:  "key=<key>\nserve=<0|1>\n" (serve: the asker can serve its in-flight bytes), then
//               at most kMaxClaimAvoid "avoid=<node id>\n" lines: sources whose stream broke or
//               stalled under the asker (a complaint; owners that predate it ignore the lines)
//        → 200 "<have|follow|fetch|decline>\n" then, for have and follow, provider lines as for
//        lookup; 400 (malformed) with a reason
//   POST /cluster/v1/progress          the sender's in-flight keys, to each key's primary owner
//        X-Spegel-Node, X-Spegel-Registry-Port as for announce
//        body:  one line per key and role: "<fetching|following|done|failed> <offset> <total>
//        <key>"
//               (the sender's own copy), or "reading <offset> <total> <key> <source id>" (bytes
//               the sender received from that source; owners that predate it refuse the body)
//        → 200 with one "revoked <key>" line per key whose fetch was revoked (empty: none)
//
// Bodies are split into lines by ForEachLine (base/lines.h: "\n" ends a line, a "\r" before it is
// dropped, empty lines are skipped, a last line without "\n" counts). The parsers read bytes from
// other nodes: they never trust a length, enforce every limit below, and fail with
// InvalidArgument and a short reason.
// RouterService serves this format (router_service.h); HttpRouterTransport speaks it
// (http_router_transport.h).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cluster/announce_batch.h"
#include "cluster/claim_table.h"
#include "cluster/content_locator.h"
#include "membership/member.h"

namespace spegel::cluster {

inline constexpr std::string_view kAnnouncePath = "/cluster/v1/announce";
inline constexpr std::string_view kLookupPath = "/cluster/v1/lookup";
inline constexpr std::string_view kHelloPath = "/cluster/v1/hello";
inline constexpr std::string_view kClaimPath = "/cluster/v1/claim";
inline constexpr std::string_view kProgressPath = "/cluster/v1/progress";

inline constexpr size_t kMaxAnnounceBodyBytes = 1 << 20;
inline constexpr size_t kMaxLookupBodyBytes = 64 << 10;
inline constexpr size_t kMaxProvidersPerAnswer = 64;
inline constexpr size_t kMaxClaimBytes = 4096;
inline constexpr size_t kMaxClaimAvoid = 8;
// The address an owner writes for itself in a claim or lookup answer (it does not know how others
// reach it); the asker replaces it with the owner's address it connected to.
inline constexpr std::string_view kSelfAddress = "0.0.0.0";
// The owner's side: its own entry (no address) is written as kSelfAddress.
void MarkSelfAddress(std::vector<Provider>* nodes);
// The asker's side: the owner's kSelfAddress entry becomes the address the asker reached it at;
// any other node's kSelfAddress entry is dropped (an owner speaks only for its own address).
void ResolveSelfAddress(std::vector<Provider>* nodes, std::string_view owner_id,
                        std::string_view owner_address);
inline constexpr size_t kMaxProgressLines = 1024;
inline constexpr size_t kMaxProgressBodyBytes = 1 << 20;

// The announce body and back. Parse enforces kMaxAnnounceKeys and kMaxKeyBytes per line.
std::string FormatAnnounce(const AnnounceBatch& batch);
Result<AnnounceBatch> ParseAnnounce(std::string_view body);
// Lookup answers: "<node id> <ip> <port>" lines (at most kMaxProvidersPerAnswer; Format drops
// the rest). Parse skips nothing: any bad line fails it.
std::string FormatProviders(const std::vector<Provider>& providers);
Result<std::vector<Provider>> ParseProviders(std::string_view body);
// Claims: the request ("key=…\nserve=…\n" and "avoid=…" lines; Parse refuses a missing or
// invalid key, an invalid node id, or more than kMaxClaimAvoid of them, and ignores unknown
// lines) and the answer (verdict line, then provider lines).
struct ClaimRequest {
  std::string key;
  bool can_serve = false;
  std::vector<std::string> avoid = {};  // Node ids; Format sends the first kMaxClaimAvoid.
};
std::string FormatClaimRequest(const ClaimRequest& request);
Result<ClaimRequest> ParseClaimRequest(std::string_view body);
std::string FormatClaimAnswer(const ClaimAnswer& answer);
Result<ClaimAnswer> ParseClaimAnswer(std::string_view body);
// Progress reports and the keys revoked in answer. Parse enforces kMaxProgressLines and valid
// keys; any bad line fails it.
std::string FormatProgress(const std::vector<ProgressReport>& reports);
Result<std::vector<ProgressReport>> ParseProgress(std::string_view body);
std::string FormatRevoked(const std::vector<std::string>& keys);
Result<std::vector<std::string>> ParseRevoked(std::string_view body);

}  // namespace spegel::cluster
