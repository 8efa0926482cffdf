#include "cli/registry_options.h"

namespace spegel::cli {

http::ServerOptions RegistryOptions::ServerOptions() const {
  http::ServerOptions o;
  o.max_header_bytes = static_cast<size_t>(max_header_bytes);
  o.max_url_bytes = static_cast<size_t>(max_url_bytes);
  o.max_connections = static_cast<size_t>(max_connections);
  o.header_read_timeout_ms = static_cast<uint64_t>(header_read_timeout.count());
  o.keepalive_idle_timeout_ms = static_cast<uint64_t>(idle_timeout.count());
  o.write_stall_timeout_ms = static_cast<uint64_t>(write_stall_timeout.count());
  return o;
}

Result<RegistryOptions> ParseRegistryOptions(const std::vector<std::string>& args,
                                             const EnvLookup& env, bool* help,
                                             std::string* usage) {
  RegistryOptions o;
  FlagSet flags("registry",
                "Runs the registry mirror: indexes this node's containerd content store and "
                "serves it over the OCI distribution API.");
  flags.AddString("registry-addr", &o.registry_addr,
                  "Address of the registry API and probes: :PORT, IP:PORT or [IPv6]:PORT.");
  flags.AddValidator("registry-addr", [&o](const std::string& raw) {
    auto address = http::ParseListenAddress(raw);
    if (!address.ok()) return address.status();
    o.registry_address = *address;
    return Status::Ok();
  });
  flags.AddString("metrics-addr", &o.metrics_addr,
                  "Address of /metrics, the status page (/), probes and debug JSON: :PORT, "
                  "IP:PORT or [IPv6]:PORT; empty = no metrics server.");
  flags.AddValidator("metrics-addr", [&o](const std::string& raw) {
    if (raw.empty()) return Status::Ok();
    auto address = http::ParseListenAddress(raw);
    if (!address.ok()) return address.status();
    o.metrics_address = *address;
    return Status::Ok();
  });
  flags.AddString("basic-auth-dir", &o.basic_auth_dir,
                  "Directory with the files username and password required (HTTP Basic) on "
                  "/v2/; auth is off when neither file exists.");
  flags.AddRequiredString("containerd-sock", &o.containerd_sock, "containerd's gRPC socket.");
  flags.AddRequiredString("containerd-namespace", &o.containerd_namespace,
                          "containerd namespace whose images are mirrored.");
  AddPreflightFlags(&flags, &o.preflight, /*with_skip=*/true);
  flags.AddString("containerd-content-path", &o.containerd_content_path,
                  "containerd's content store directory, read directly; empty = ask "
                  "containerd, falling back to reads over gRPC.");
  flags.AddDuration("resync-interval", &o.resync_interval,
                    "Period of the full resync with containerd (0 = never).");
  flags.AddString("log-level", &o.log_level, "DEBUG, INFO, WARN or ERROR.");
  flags.AddValidator("log-level", [&o](const std::string& raw) {
    return ParseLogLevel(raw, &o.level) ? Status::Ok()
                                        : Status::InvalidArgument("use DEBUG, INFO, WARN or ERROR");
  });
  flags.AddInt("max-header-bytes", &o.max_header_bytes, 1024, 1 << 20,
               "Largest request head; above it 431.");
  flags.AddInt("max-url-bytes", &o.max_url_bytes, 256, 1 << 20,
               "Longest request target; above it 414.");
  flags.AddInt("max-connections", &o.max_connections, 1, 1000000,
               "Open client connections; more are closed at once.");
  flags.AddDuration("header-read-timeout", &o.header_read_timeout,
                    "Time a client has to send a whole request head; then 408.");
  flags.AddDuration("idle-timeout", &o.idle_timeout, "Idle keep-alive connections close after it.");
  flags.AddDuration("write-stall-timeout", &o.write_stall_timeout,
                    "A client that reads nothing of a response for this long is disconnected.");
  flags.AddDuration("shutdown-timeout", &o.shutdown_timeout,
                    "On SIGTERM, in-flight responses get this long to finish.");

  // The default address must parse too: run the validator once on it.
  auto default_address = http::ParseListenAddress(o.registry_addr);
  if (default_address.ok()) o.registry_address = *default_address;
  auto default_metrics = http::ParseListenAddress(o.metrics_addr);
  if (default_metrics.ok()) o.metrics_address = *default_metrics;

  Status st = flags.Parse(args, env, help);
  if (*help) {
    *usage = flags.Usage();
    return o;
  }
  if (!st.ok()) return st;
  for (auto* d : {&o.header_read_timeout, &o.idle_timeout, &o.write_stall_timeout}) {
    if (d->count() <= 0) return Status::InvalidArgument("timeouts must be positive");
  }
  return o;
}

}  // namespace spegel::cli
