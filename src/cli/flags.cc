#include "cli/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

namespace spegel::cli {
namespace {

std::string DurationText(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string JoinList(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out.push_back(',');
    out += v;
  }
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name, std::string* value) {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return false;
    *value = v;
    return true;
  };
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const std::string s(text);
  if (s.empty()) return Status::InvalidArgument("empty duration");
  if (s == "0") return std::chrono::milliseconds(0);  // The one number without a unit.
  size_t unit_at = 0;
  while (unit_at < s.size() && ((s[unit_at] >= '0' && s[unit_at] <= '9') || s[unit_at] == '.')) {
    ++unit_at;
  }
  if (unit_at == 0 || unit_at == s.size()) {
    return Status::InvalidArgument("\"" + s + "\" is not a duration (use e.g. 20ms, 2s, 5m)");
  }
  const std::string number = s.substr(0, unit_at);
  const std::string unit = s.substr(unit_at);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(number.c_str(), &end);
  if (errno != 0 || end != number.c_str() + number.size() || !std::isfinite(value)) {
    return Status::InvalidArgument("\"" + s + "\" is not a duration (use e.g. 20ms, 2s, 5m)");
  }
  double ms;
  if (unit == "us") {
    ms = value / 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "s") {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60000;
  } else if (unit == "h") {
    ms = value * 3600000;
  } else {
    return Status::InvalidArgument("\"" + s + "\" has unknown unit \"" + unit +
                                   "\" (use us, ms, s, m or h)");
  }
  if (ms > 1e12) return Status::InvalidArgument("\"" + s + "\" is too long");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

std::string FlagSet::EnvName(std::string_view flag_name) {
  std::string env;
  for (char c : flag_name) {
    env.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
  }
  return env;
}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

void FlagSet::AddString(std::string name, std::string* target, std::string help) {
  Add({std::move(name), Kind::kString, target, 0, 0, std::move(help), *target, nullptr});
}

void FlagSet::AddRequiredString(std::string name, std::string* target, std::string help) {
  Add({std::move(name), Kind::kRequiredString, target, 0, 0, std::move(help), *target, nullptr});
}

void FlagSet::AddDuration(std::string name, std::chrono::milliseconds* target, std::string help) {
  Add({std::move(name), Kind::kDuration, target, 0, 0, std::move(help), DurationText(*target),
       nullptr});
}

void FlagSet::AddInt(std::string name, int64_t* target, int64_t min, int64_t max,
                     std::string help) {
  Add({std::move(name), Kind::kInt, target, min, max, std::move(help), std::to_string(*target),
       nullptr});
}

void FlagSet::AddBool(std::string name, bool* target, std::string help) {
  Add({std::move(name), Kind::kBool, target, 0, 0, std::move(help), *target ? "true" : "false",
       nullptr});
}

void FlagSet::AddList(std::string name, std::vector<std::string>* target, std::string help) {
  Add({std::move(name), Kind::kList, target, 0, 0, std::move(help), JoinList(*target), nullptr});
}

void FlagSet::AddValidator(const std::string& name,
                           std::function<Status(const std::string&)> validate) {
  if (Flag* f = Find(name)) f->validate = std::move(validate);
}

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status FlagSet::Apply(Flag& flag, const std::string& value, const std::string& source) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("invalid value \"" + value + "\" for " + source + ": " + why);
  };
  switch (flag.kind) {
    case Kind::kRequiredString:
      if (value.empty()) return fail("must not be empty");
      [[fallthrough]];
    case Kind::kString: *static_cast<std::string*>(flag.target) = value; break;
    case Kind::kDuration: {
      auto d = ParseDuration(value);
      if (!d.ok()) return fail(d.status().message());
      if (d->count() < 0) return fail("must not be negative");
      *static_cast<std::chrono::milliseconds*>(flag.target) = *d;
      break;
    }
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || errno != 0 || end != value.c_str() + value.size()) {
        return fail("not an integer");
      }
      if (v < flag.min || v > flag.max) {
        return fail("must be between " + std::to_string(flag.min) + " and " +
                    std::to_string(flag.max));
      }
      *static_cast<int64_t*>(flag.target) = v;
      break;
    }
    case Kind::kBool:
      if (value == "true" || value == "1") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return fail("must be true or false");
      }
      break;
    case Kind::kList: {
      // Comma-separated (upstream's form, environment too); "\," is a comma inside an item (a
      // regex such as a{1\,3}); any other backslash is kept as it is.
      auto* list = static_cast<std::vector<std::string>*>(flag.target);
      std::string item;
      for (size_t i = 0; i <= value.size(); ++i) {
        if (i < value.size() && value[i] == '\\' && i + 1 < value.size() && value[i + 1] == ',') {
          item.push_back(',');
          ++i;
        } else if (i == value.size() || value[i] == ',') {
          if (!item.empty()) list->push_back(std::move(item));
          item.clear();
        } else {
          item.push_back(value[i]);
        }
      }
      break;
    }
  }
  if (flag.validate) {
    Status st = flag.validate(value);
    if (!st.ok()) return fail(st.message());
  }
  return Status::Ok();
}

Status FlagSet::Parse(const std::vector<std::string>& args, const EnvLookup& env, bool* help) {
  *help = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      *help = true;
      return Status::Ok();
    }
  }
  std::set<std::string> from_cli;
  std::set<std::string> lists_reset;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return Status::InvalidArgument("unexpected argument \"" + arg + "\" for " + command_ +
                                     " (see --help)");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return Status::InvalidArgument("unknown flag --" + name + " for " + command_ +
                                     " (see --help)");
    }
    if (!has_value) {
      if (flag->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Status::InvalidArgument("flag --" + name + " needs a value");
      }
    }
    if (flag->kind == Kind::kList && lists_reset.insert(name).second) {
      static_cast<std::vector<std::string>*>(flag->target)->clear();
    }
    Status st = Apply(*flag, value, "--" + name);
    if (!st.ok()) return st;
    from_cli.insert(name);
  }
  for (auto& flag : flags_) {
    if (from_cli.count(flag.name)) continue;
    const std::string var = EnvName(flag.name);
    std::string value;
    if (!env(var, &value)) continue;
    if (flag.kind == Kind::kList) static_cast<std::vector<std::string>*>(flag.target)->clear();
    Status st = Apply(flag, value, "--" + flag.name + " (from $" + var + ")");
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const {
  std::string out = "Usage: spegel " + command_ + " [flags]\n\n" + summary_ + "\n\nFlags:\n";
  for (const auto& f : flags_) {
    out += "  --" + f.name;
    if (f.kind != Kind::kBool) out += " VALUE";
    out += "\n      " + f.help + "\n      env " + EnvName(f.name);
    if (!f.default_text.empty()) out += ", default \"" + f.default_text + "\"";
    out += "\n";
  }
  out += "  --help, -h\n      Show this help.\n";
  return out;
}

Status FlagSet::ParseOrUsage(const std::vector<std::string>& args, const EnvLookup& env, bool* help,
                             std::string* usage) {
  Status st = Parse(args, env, help);
  if (*help) {
    *usage = Usage();
    return Status::Ok();
  }
  return st;
}

void FlagSet::AddLogLevel(std::string* raw, LogLevel* level) {
  AddString("log-level", raw, "DEBUG, INFO, WARN or ERROR.");
  AddValidator("log-level", [level](const std::string& value) {
    return ParseLogLevel(value, level) ? Status::Ok()
                                       : Status::InvalidArgument("use DEBUG, INFO, WARN or ERROR");
  });
}

}  // namespace spegel::cli
