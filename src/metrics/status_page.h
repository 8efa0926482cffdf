// The status page: one StatusSnapshot as a self-contained HTML page. The chart is inline SVG
// drawn here, the style plain CSS written here; nothing is loaded from elsewhere (it works
// offline and in an air-gapped cluster) and no script is needed to read it.
//
// Every string that came from outside (image names, tags, node ids, addresses, states) is
// escaped with HtmlEscape.
//
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/measure.h"
#include "metrics/status.h"

namespace spegel::metrics {

std::string RenderStatusPage(const StatusSnapshot& snapshot);

// The measure page: the form (holding `image`, as typed), then `message` if any, then the result
// of a finished run if any.
std::string RenderMeasurePage(std::string_view image, std::string_view message,
                              const MeasureResult* result);

// The request chart alone: an <svg> with one <g class="step"> per history point.
std::string RenderTrafficChart(const StatusSnapshot& snapshot);

// `text` with &, <, >, " and ' replaced by entities.
std::string HtmlEscape(std::string_view text);
// "0 B", "1.5 KiB", "12.3 MiB", "1.02 GiB".
std::string HumanBytes(uint64_t bytes);
// "850 ms", "12.4 s", "3 min", "2 h 5 min".
std::string HumanSeconds(double seconds);

}  // namespace spegel::metrics
