// IP address literals in text: the one recognizer every layer uses, from an image reference's
// registry host (oci) up to addresses in flags and on the wire (http, cluster). Only the bare
// literal: brackets, ports, zones and the forms built from them are http/address.h's, and no name
// is ever resolved. It lives in base, next to ParsePort, because oci sits below http.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace spegel {

enum class IpFamily { kV4, kV6 };

// inet_ntop's text for `text` read as an IP literal of `family` by inet_pton ("10.0.0.1",
// "fd00::1": IPv6 lowercase and shortest), or empty when it is not one. IPv4 is four decimal
// octets without leading zeros; neither family takes brackets or a zone.
std::string CanonicalIp(std::string_view text, IpFamily family);

// True when `text` is an IPv4 or an IPv6 literal as CanonicalIp reads them. Text with a NUL byte
// is neither ("10.0.0.1\0x" is refused, not read as 10.0.0.1).
bool IsIpLiteral(std::string_view text);

}  // namespace spegel
