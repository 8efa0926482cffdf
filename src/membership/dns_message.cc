#include "membership/dns_message.h"

#include <unordered_map>
#include <utility>

namespace spegel::cluster::dns {
namespace {

// Smallest wire sizes, used to reject counts that cannot fit before anything is allocated.
constexpr size_t kMinQuestionSize = 1 + 4;  // root name + type + class
constexpr size_t kMinRecordSize = 1 + 10;   // root name + type, class, ttl, rdlength
constexpr size_t kHeaderSize = 12;

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

Status Error(const std::string& what, size_t offset) {
  return Status::InvalidArgument("dns: " + what + " at offset " + std::to_string(offset));
}

// Reads big-endian integers from a bounded buffer; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  size_t pos() const { return pos_; }
  size_t size() const { return bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }
  std::string_view bytes() const { return bytes_; }
  void Seek(size_t pos) { pos_ = pos; }

  bool U8(uint8_t* v) {
    if (remaining() < 1) return false;
    *v = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (remaining() < 2) return false;
    *v = static_cast<uint16_t>((Byte(pos_) << 8) | Byte(pos_ + 1));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    if (remaining() < 4) return false;
    *v = (static_cast<uint32_t>(Byte(pos_)) << 24) | (static_cast<uint32_t>(Byte(pos_ + 1)) << 16) |
         (static_cast<uint32_t>(Byte(pos_ + 2)) << 8) | static_cast<uint32_t>(Byte(pos_ + 3));
    pos_ += 4;
    return true;
  }
  uint8_t Byte(size_t at) const { return static_cast<uint8_t>(bytes_[at]); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Reads a (possibly compressed) name starting at r->pos(). On success r->pos() is just past the
// name's in-place bytes (the first pointer, or the root label). `end` bounds the in-place bytes
// (the message end, or the end of an rdata block).
Status ReadName(Reader* r, size_t end, std::string* out) {
  out->clear();
  std::string_view bytes = r->bytes();
  size_t pos = r->pos();
  size_t segment_start = pos;  // start of the part being read; pointers must go before it
  size_t resume = 0;           // where the reader continues after the name (set at first jump)
  bool jumped = false;
  int jumps = 0;
  size_t wire_length = 0;
  size_t limit = end;
  for (;;) {
    if (pos >= limit) return Error("name runs past its bounds", pos);
    const uint8_t len = static_cast<uint8_t>(bytes[pos]);
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= limit) return Error("truncated compression pointer", pos);
      const size_t target = (static_cast<size_t>(len & 0x3F) << 8) |
                            static_cast<uint8_t>(bytes[pos + 1]);
      if (target >= segment_start)
        return Error("compression pointer does not point backwards", pos);
      if (++jumps > kMaxPointerJumps) return Error("too many compression pointers", pos);
      if (!jumped) {
        resume = pos + 2;
        jumped = true;
      }
      pos = target;
      segment_start = target;
      limit = r->size();  // earlier names may lie anywhere before this one
      continue;
    }
    if ((len & 0xC0) != 0) return Error("unsupported label type", pos);
    wire_length += 1 + len;
    if (wire_length > kMaxNameWireLength) return Error("name longer than 255 bytes", pos);
    if (len == 0) {
      r->Seek(jumped ? resume : pos + 1);
      return Status::Ok();
    }
    if (pos + 1 + len > limit) return Error("label runs past its bounds", pos);
    if (!out->empty()) out->push_back('.');
    out->append(EscapeLabel(bytes.substr(pos + 1, len)));
    pos += 1 + len;
  }
}

Status ReadQuestion(Reader* r, Question* q) {
  const size_t start = r->pos();
  if (Status s = ReadName(r, r->size(), &q->name); !s.ok()) return s;
  uint16_t qclass = 0;
  if (!r->U16(&q->type) || !r->U16(&qclass)) return Error("truncated question", start);
  q->unicast_response = (qclass & 0x8000) != 0;
  q->qclass = qclass & 0x7FFF;
  return Status::Ok();
}

Status ReadRecord(Reader* r, ResourceRecord* rr) {
  const size_t start = r->pos();
  if (Status s = ReadName(r, r->size(), &rr->name); !s.ok()) return s;
  uint16_t rclass = 0;
  uint16_t rdlength = 0;
  if (!r->U16(&rr->type) || !r->U16(&rclass) || !r->U32(&rr->ttl) || !r->U16(&rdlength)) {
    return Error("truncated record header", start);
  }
  rr->cache_flush = (rclass & 0x8000) != 0;
  rr->rclass = rclass & 0x7FFF;
  const size_t rdata = r->pos();
  if (rdlength > r->remaining()) return Error("rdata runs past the message", rdata);
  const size_t rdend = rdata + rdlength;
  switch (rr->type) {
    case kTypeA:
    case kTypeAaaa: {
      const size_t want = rr->type == kTypeA ? 4 : 16;
      if (rdlength != want)
        return Error("address rdata of length " + std::to_string(rdlength), rdata);
      for (size_t i = 0; i < want; ++i) rr->ip[i] = r->Byte(rdata + i);
      break;
    }
    case kTypePtr: {
      if (Status s = ReadName(r, rdend, &rr->target); !s.ok()) return s;
      if (r->pos() != rdend) return Error("PTR rdata longer than its name", rdata);
      break;
    }
    case kTypeSrv: {
      if (!r->U16(&rr->priority) || !r->U16(&rr->weight) || !r->U16(&rr->port) ||
          r->pos() > rdend) {
        return Error("truncated SRV rdata", rdata);
      }
      if (Status s = ReadName(r, rdend, &rr->target); !s.ok()) return s;
      if (r->pos() != rdend) return Error("SRV rdata longer than its name", rdata);
      break;
    }
    case kTypeTxt: {
      size_t p = rdata;
      while (p < rdend) {
        const size_t len = r->Byte(p);
        if (p + 1 + len > rdend) return Error("TXT string runs past its rdata", p);
        rr->txt.emplace_back(r->bytes().substr(p + 1, len));
        p += 1 + len;
      }
      break;
    }
    default: rr->raw.assign(r->bytes().substr(rdata, rdlength)); break;
  }
  r->Seek(rdend);
  return Status::Ok();
}

// Writes names (with optional compression) and integers into a growing buffer.
class Writer {
 public:
  explicit Writer(bool compress) : compress_(compress) {}

  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v & 0xFF));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v & 0xFFFF));
  }
  void Bytes(std::string_view b) { out_.append(b); }
  size_t size() const { return out_.size(); }
  std::string& out() { return out_; }

  Status Name(std::string_view name) {
    Result<std::vector<std::string>> labels = SplitName(name);
    if (!labels.ok()) return labels.status();
    const std::vector<std::string>& l = *labels;
    for (size_t i = 0; i < l.size(); ++i) {
      // Key: the exact wire form of the suffix starting at label i. Names compare
      // case-insensitively, but a pointer repeats the earlier bytes: matching case-insensitively
      // would rewrite this name's case.
      std::string key;
      if (compress_) {
        for (size_t j = i; j < l.size(); ++j) {
          key.push_back(static_cast<char>(l[j].size()));
          key.append(l[j]);
        }
        auto it = suffixes_.find(key);
        if (it != suffixes_.end()) {
          U16(static_cast<uint16_t>(0xC000 | it->second));
          return Status::Ok();
        }
        if (size() < 0x3FFF) suffixes_.emplace(std::move(key), size());
      }
      U8(static_cast<uint8_t>(l[i].size()));
      Bytes(l[i]);
    }
    U8(0);
    return Status::Ok();
  }

 private:
  bool compress_;
  std::string out_;
  std::unordered_map<std::string, size_t> suffixes_;
};

Status WriteRecord(Writer* w, const ResourceRecord& rr) {
  if (Status s = w->Name(rr.name); !s.ok()) return s;
  w->U16(rr.type);
  w->U16(static_cast<uint16_t>((rr.rclass & 0x7FFF) | (rr.cache_flush ? 0x8000 : 0)));
  w->U32(rr.ttl);
  const size_t length_at = w->size();
  w->U16(0);  // rdlength, patched below
  const size_t rdata = w->size();
  switch (rr.type) {
    case kTypeA: w->Bytes(std::string_view(reinterpret_cast<const char*>(rr.ip.data()), 4)); break;
    case kTypeAaaa:
      w->Bytes(std::string_view(reinterpret_cast<const char*>(rr.ip.data()), 16));
      break;
    case kTypePtr:
      if (Status s = w->Name(rr.target); !s.ok()) return s;
      break;
    case kTypeSrv:
      w->U16(rr.priority);
      w->U16(rr.weight);
      w->U16(rr.port);
      if (Status s = w->Name(rr.target); !s.ok()) return s;
      break;
    case kTypeTxt:
      for (const std::string& t : rr.txt) {
        if (t.size() > 255) return Status::InvalidArgument("dns: TXT string longer than 255 bytes");
        w->U8(static_cast<uint8_t>(t.size()));
        w->Bytes(t);
      }
      break;
    default: w->Bytes(rr.raw); break;
  }
  const size_t rdlength = w->size() - rdata;
  if (rdlength > 0xFFFF) return Status::InvalidArgument("dns: rdata longer than 65535 bytes");
  w->out()[length_at] = static_cast<char>(rdlength >> 8);
  w->out()[length_at + 1] = static_cast<char>(rdlength & 0xFF);
  return Status::Ok();
}

}  // namespace

std::string EscapeLabel(std::string_view label) {
  std::string out;
  out.reserve(label.size());
  for (char ch : label) {
    const uint8_t c = static_cast<uint8_t>(ch);
    if (c == '.' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x21 || c > 0x7E) {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + (c / 10) % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

Result<std::vector<std::string>> SplitName(std::string_view name) {
  std::vector<std::string> labels;
  if (name.empty()) return labels;
  std::string label;
  size_t wire = 1;  // the root label
  auto finish = [&]() -> Status {
    if (label.empty()) return Status::InvalidArgument("dns: empty label in name");
    if (label.size() > kMaxLabelLength)
      return Status::InvalidArgument("dns: label longer than 63 bytes");
    wire += 1 + label.size();
    if (wire > kMaxNameWireLength)
      return Status::InvalidArgument("dns: name longer than 255 bytes");
    labels.push_back(std::move(label));
    label.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (Status s = finish(); !s.ok()) return s;
      continue;
    }
    if (c != '\\') {
      label.push_back(c);
    } else if (i + 1 >= name.size()) {
      return Status::InvalidArgument("dns: dangling escape in name");
    } else if (name[i + 1] < '0' || name[i + 1] > '9') {
      label.push_back(name[i + 1]);
      ++i;
    } else {
      if (i + 3 >= name.size()) return Status::InvalidArgument("dns: bad \\DDD escape in name");
      int v = 0;
      for (size_t k = 1; k <= 3; ++k) {
        const char d = name[i + k];
        if (d < '0' || d > '9') return Status::InvalidArgument("dns: bad \\DDD escape in name");
        v = v * 10 + (d - '0');
      }
      if (v > 255) return Status::InvalidArgument("dns: \\DDD escape above 255");
      label.push_back(static_cast<char>(v));
      i += 3;
    }
    if (label.size() > kMaxLabelLength)
      return Status::InvalidArgument("dns: label longer than 63 bytes");
  }
  if (Status s = finish(); !s.ok()) return s;
  return labels;
}

bool NameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool NameHasSuffix(std::string_view name, std::string_view suffix) {
  if (NameEquals(name, suffix)) return true;
  if (suffix.empty()) return true;  // every name is under the root
  if (name.size() < suffix.size() + 1) return false;
  const size_t dot = name.size() - suffix.size() - 1;
  if (name[dot] != '.' || !NameEquals(name.substr(dot + 1), suffix)) return false;
  // The dot must be a separator, not an escaped "\." inside a label.
  size_t backslashes = 0;
  for (size_t i = dot; i > 0 && name[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

Result<Message> ParseMessage(std::string_view bytes) {
  if (bytes.size() > kMaxMessageSize) return Error("message longer than 65535 bytes", 0);
  Reader r(bytes);
  Message m;
  uint16_t counts[4] = {};
  if (!r.U16(&m.id) || !r.U16(&m.flags) || !r.U16(&counts[0]) || !r.U16(&counts[1]) ||
      !r.U16(&counts[2]) || !r.U16(&counts[3])) {
    return Error("truncated header", 0);
  }
  const size_t need = counts[0] * kMinQuestionSize +
                      (static_cast<size_t>(counts[1]) + counts[2] + counts[3]) * kMinRecordSize;
  if (need > r.remaining()) return Error("section counts exceed the message size", kHeaderSize);
  for (uint16_t i = 0; i < counts[0]; ++i) {
    Question q;
    if (Status s = ReadQuestion(&r, &q); !s.ok()) return s;
    m.questions.push_back(std::move(q));
  }
  std::vector<ResourceRecord>* sections[3] = {&m.answers, &m.authorities, &m.additionals};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s + 1]; ++i) {
      ResourceRecord rr;
      if (Status st = ReadRecord(&r, &rr); !st.ok()) return st;
      sections[s]->push_back(std::move(rr));
    }
  }
  return m;
}

Result<std::string> BuildMessage(const Message& message, bool compress) {
  const size_t counts[4] = {message.questions.size(), message.answers.size(),
                            message.authorities.size(), message.additionals.size()};
  for (size_t c : counts) {
    if (c > 0xFFFF) return Status::InvalidArgument("dns: more than 65535 entries in a section");
  }
  Writer w(compress);
  w.U16(message.id);
  w.U16(message.flags);
  for (size_t c : counts) w.U16(static_cast<uint16_t>(c));
  for (const Question& q : message.questions) {
    if (Status s = w.Name(q.name); !s.ok()) return s;
    w.U16(q.type);
    w.U16(static_cast<uint16_t>((q.qclass & 0x7FFF) | (q.unicast_response ? 0x8000 : 0)));
  }
  for (const auto* section : {&message.answers, &message.authorities, &message.additionals}) {
    for (const ResourceRecord& rr : *section) {
      if (Status s = WriteRecord(&w, rr); !s.ok()) return s;
      if (w.size() > kMaxMessageSize)
        return Status::InvalidArgument("dns: message longer than 65535 bytes");
    }
  }
  if (w.size() > kMaxMessageSize)
    return Status::InvalidArgument("dns: message longer than 65535 bytes");
  return std::move(w.out());
}

}  // namespace spegel::cluster::dns
