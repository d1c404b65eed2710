// Backend selection at run time: names, availability probes, and the auto/fallback policy
// (io_uring first on Linux, epoll when io_uring cannot run here, with the reason kept and
// logged by the loop; IOCP on Windows).
#include <array>

#include "backend.hpp"

namespace volley::engine {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(Backend::kCount)> kBackendNames = {
    "auto", "io_uring", "epoll", "iocp"};

}  // namespace

std::string_view backend_name(Backend backend) noexcept {
  const auto i = static_cast<std::size_t>(backend);
  return i < kBackendNames.size() ? kBackendNames[i] : "unknown";
}

std::optional<Backend> parse_backend(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kBackendNames.size(); ++i) {
    if (kBackendNames[i] == name) return static_cast<Backend>(i);
  }
  return std::nullopt;
}

std::string probe_backend(Backend backend) {
  switch (backend) {
#ifdef __linux__
    case Backend::kIoUring:
      return probe_io_uring();
    case Backend::kEpoll:
      return {};
    case Backend::kIocp:
      return "iocp is only available on Windows";
#elif defined(_WIN32)
    case Backend::kIocp:
      return {};
    case Backend::kIoUring:
    case Backend::kEpoll:
      return std::string(backend_name(backend)) + " is only available on Linux";
#endif
    default:
      return "not a concrete backend";
  }
}

std::string backend_unavailable_reason(Backend backend) { return probe_backend(backend); }

std::vector<Backend> available_backends() {
  std::vector<Backend> out;
  for (const Backend b : {Backend::kIoUring, Backend::kEpoll, Backend::kIocp}) {
    if (probe_backend(b).empty()) out.push_back(b);
  }
  return out;
}

namespace {

std::unique_ptr<Datapath> create(Backend backend, const DatapathParams& params, std::string* error) {
  switch (backend) {
#ifdef __linux__
    case Backend::kIoUring:
      return create_io_uring_datapath(params, error);
    case Backend::kEpoll:
      return create_epoll_datapath(params, error);
#elif defined(_WIN32)
    case Backend::kIocp:
      return create_iocp_datapath(params, error);
#endif
    default:
      *error = probe_backend(backend);
      return nullptr;
  }
}

}  // namespace

SelectedDatapath select_datapath(Backend requested, const DatapathParams& params) {
  SelectedDatapath out;
#ifdef _WIN32
  const Backend first = requested == Backend::kAuto ? Backend::kIocp : requested;
  out.datapath = create(first, params, &out.error);
#else
  const Backend first = requested == Backend::kAuto ? Backend::kIoUring : requested;
  std::string reason;
  out.datapath = create(first, params, &reason);
  // An explicit io_uring request also falls back: a server asked for io_uring on a host that
  // forbids it (seccomp, io_uring_disabled) should still serve, and say why it is on epoll.
  if (!out.datapath && first == Backend::kIoUring) {
    out.note = "io_uring unavailable (" + reason + "); falling back to epoll";
    out.datapath = create(Backend::kEpoll, params, &out.error);
  } else if (!out.datapath) {
    out.error = reason;
  }
#endif
  return out;
}

}  // namespace volley::engine
