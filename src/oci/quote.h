// Quoting untrusted text for error messages: the OCI parsers put the offending input into their
// Status messages, and those messages reach logs and HTTP error bodies. Quote() makes any byte
// string printable and bounded, so a hostile name can neither forge log lines nor bloat them.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spegel::oci {

// Returns `text` in double quotes with '"', '\\' and every byte outside printable ASCII written
// as \xNN. Input longer than `max_bytes` is cut there and marked with "..." after the quote.
std::string Quote(std::string_view text, size_t max_bytes = 96);

}  // namespace spegel::oci
