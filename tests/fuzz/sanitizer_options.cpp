// Sanitizer defaults of the libFuzzer builds (an ASAN_OPTIONS variable still overrides them).
// ASan's default 256 MiB quarantine hands every input fresh pages: the Host target spent a third
// of its time in page faults. 16 MiB still holds every block an input frees (a host script frees
// well under 1 MiB) until the input has ended, so a use after free is still caught.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }
