#include "index/debug_json.h"

#include "base/json_escape.h"

namespace spegel::index {

std::string DebugIndexJson(const Index& index, const Syncer& syncer) {
  std::string body;
  body.reserve(256 + index.blob_count() * 180);
  body.append("{\"ready\":");
  body.append(syncer.ready() ? "true" : "false");
  body.append(",\"connected\":");
  body.append(syncer.connected() ? "true" : "false");
  body.append(",\"synced\":");
  body.append(syncer.synced() ? "true" : "false");
  body.append(",\"containerd_version\":");
  AppendJsonString(&body, syncer.containerd_version());
  body.append(",\"content_root\":");
  AppendJsonString(&body, syncer.content_root());
  body.append(",\"full_syncs\":");
  body.append(std::to_string(syncer.full_syncs()));
  body.append(",\"reconnects\":");
  body.append(std::to_string(syncer.reconnects()));
  body.push_back(',');
  index.AppendJson(&body);
  body.append("}\n");
  return body;
}

}  // namespace spegel::index
