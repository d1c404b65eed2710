// libpcap's offline reader behind a small interface. pcap_next_ex reports a file cut short as an
// error (-1) rather than as the end, which is what lets volley-dump say the capture is damaged.
#include "pcap_reader.hpp"

#include <pcap/pcap.h>

namespace volley::tools {

struct PcapReader::Handle {
  pcap_t* pcap = nullptr;
  ~Handle() {
    if (pcap != nullptr) pcap_close(pcap);
  }
};

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, std::string& error) {
  char message[PCAP_ERRBUF_SIZE] = {};
  auto handle = std::make_unique<Handle>();
  handle->pcap = pcap_open_offline(path.c_str(), message);
  if (handle->pcap == nullptr) {
    // libpcap starts some of its messages with the path ("x.pcap: No such file or directory");
    // the caller names the file itself, once.
    error = message;
    if (error.starts_with(path + ": ")) error.erase(0, path.size() + 2);
    return nullptr;
  }
  const int dlt = pcap_datalink(handle->pcap);
  const auto link = link_type_from_dlt(dlt);
  if (!link) {
    const char* name = pcap_datalink_val_to_name(dlt);
    error = "unsupported link type " + std::to_string(dlt) + (name ? std::string(" (") + name + ")" : "") +
            "; supported: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, NULL, LOOP";
    return nullptr;
  }
  return std::unique_ptr<PcapReader>(new PcapReader(std::move(handle), *link));
}

PcapReader::PcapReader(std::unique_ptr<Handle> handle, LinkType link) noexcept
    : handle_(std::move(handle)), link_(link) {}

PcapReader::~PcapReader() = default;

std::optional<CaptureRecord> PcapReader::next() {
  if (!error_.empty()) return std::nullopt;
  pcap_pkthdr* header = nullptr;
  const std::uint8_t* data = nullptr;
  const int status = pcap_next_ex(handle_->pcap, &header, &data);
  if (status == PCAP_ERROR_BREAK || status == 0) return std::nullopt;
  if (status < 0 || header == nullptr || data == nullptr) {
    error_ = pcap_geterr(handle_->pcap);
    if (error_.empty()) error_ = "read error";
    return std::nullopt;
  }
  CaptureRecord record;
  record.seconds = header->ts.tv_sec;
  record.microseconds = header->ts.tv_usec;
  record.frame = ByteView(data, header->caplen);
  record.wire_length = header->len;
  return record;
}

}  // namespace volley::tools
