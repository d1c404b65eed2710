// Reading capture files (pcap or pcapng, via libpcap) record by record, with the link type
// resolved to one packet_parse understands. A damaged file ends the stream with an error
// message instead of aborting; records already returned stay valid until the next call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "packet_parse.hpp"

namespace volley::tools {

struct CaptureRecord {
  std::int64_t seconds = 0;
  std::int64_t microseconds = 0;
  ByteView frame;                // the captured bytes (caplen)
  std::uint32_t wire_length = 0;  // the frame's length on the wire (len)
};

class PcapReader {
 public:
  // Opens `path`; on failure returns nullptr and sets `error` to a one-line reason.
  static std::unique_ptr<PcapReader> open(const std::string& path, std::string& error);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  LinkType link_type() const noexcept { return link_; }

  // Next record, or nullopt at the end of the file or on a read error (then error() is set).
  std::optional<CaptureRecord> next();
  const std::string& error() const noexcept { return error_; }

 private:
  struct Handle;
  PcapReader(std::unique_ptr<Handle> handle, LinkType link) noexcept;

  std::unique_ptr<Handle> handle_;
  LinkType link_;
  std::string error_;
};

}  // namespace volley::tools
