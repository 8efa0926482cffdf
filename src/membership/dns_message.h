// DNS messages on the wire (RFC 1035), with the Multicast DNS conventions of RFC 6762: the top bit
// of a question's class asks for a unicast response (QU), the top bit of a record's class is the
// cache-flush bit. Used by the mDNS agent; nothing here does I/O.
//
// Names are in presentation form without the trailing dot ("_spegel._tcp.local"; the root is "").
// A label byte that is '.' or '\' is escaped with a backslash, any byte outside 0x21..0x7e as \DDD
// (decimal), so a DNS-SD instance label such as "node.a" reads "node\.a._spegel._tcp.local". The
// parser always produces this canonical form; the builder accepts it (and \X for any X).
//
// Parsing treats the input as hostile: every length is checked against the buffer, compression
// pointers must point strictly before the start of the name part that contains them (so chains
// always end), at most kMaxPointerJumps per name, labels <= 63 bytes, names <= 255 wire bytes,
// and record counts must fit in the remaining bytes (nothing is allocated from a count).
//
// Pure values and functions; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace spegel::cluster::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeSrv = 33;
inline constexpr uint16_t kTypeAny = 255;
inline constexpr uint16_t kClassIn = 1;

inline constexpr uint16_t kFlagResponse = 0x8000;       // QR
inline constexpr uint16_t kFlagAuthoritative = 0x0400;  // AA
inline constexpr uint16_t kFlagTruncated = 0x0200;      // TC

inline constexpr size_t kMaxNameWireLength = 255;
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr int kMaxPointerJumps = 64;
inline constexpr size_t kMaxMessageSize = 65535;

struct Question {
  std::string name;
  uint16_t type = 0;
  uint16_t qclass = kClassIn;     // without the QU bit
  bool unicast_response = false;  // the QU bit (0x8000 of the class)
};

struct ResourceRecord {
  std::string name;
  uint16_t type = 0;
  uint16_t rclass = kClassIn;  // without the cache-flush bit
  bool cache_flush = false;    // 0x8000 of the class
  uint32_t ttl = 0;

  // Decoded rdata; which fields mean something depends on `type`.
  std::array<uint8_t, 16> ip{};  // A: the first 4 bytes; AAAA: all 16 (network order)
  std::string target;            // PTR: the name pointed to; SRV: the target host
  uint16_t priority = 0;         // SRV
  uint16_t weight = 0;           // SRV
  uint16_t port = 0;             // SRV
  std::vector<std::string> txt;  // TXT: the character-strings, in order
  std::string raw;               // any other type: the rdata bytes as received
};

struct Message {
  uint16_t id = 0;
  uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, rcode as on the wire
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
  std::vector<ResourceRecord> additionals;

  bool is_response() const { return (flags & kFlagResponse) != 0; }
};

// Parses one complete message. Any violation (truncation, bad pointer, over-long name, trailing
// garbage is allowed and ignored) is InvalidArgument naming the first problem and its offset.
Result<Message> ParseMessage(std::string_view bytes);

// Builds the wire form. With `compress`, repeated name suffixes become pointers to their first
// occurrence. InvalidArgument for names or TXT strings that cannot be encoded, or a message larger
// than kMaxMessageSize. For types other than A, AAAA, PTR, SRV and TXT, `raw` is written as is.
Result<std::string> BuildMessage(const Message& message, bool compress = true);

// Presentation-form helpers.
// Splits a presentation name into raw labels (escapes resolved). "" is the root (no labels).
Result<std::vector<std::string>> SplitName(std::string_view name);
// Escapes one raw label into presentation form.
std::string EscapeLabel(std::string_view label);
// ASCII case-insensitive equality of two canonical presentation names (DNS names compare so).
bool NameEquals(std::string_view a, std::string_view b);
// True when `name` is `suffix` or ends with "." + `suffix` (case-insensitive, canonical forms).
bool NameHasSuffix(std::string_view name, std::string_view suffix);

}  // namespace spegel::cluster::dns
