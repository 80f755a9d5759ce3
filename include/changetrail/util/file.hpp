#pragma once

#include <cstdint>
#include <string>

namespace changetrail::util {

// Reads a whole regular file into `out`. Anything else (a directory, a FIFO, a device, a socket)
// is refused without blocking: the file is opened O_NONBLOCK and checked with fstat before any
// read, so a FIFO named *.yaml cannot hang a run. Files over `limit` bytes are not read.
// On failure returns false and sets `error` to a short reason without the path
// ("is a directory", "cannot read: Permission denied", "file is 200 MiB, over the 64 MiB limit").
[[nodiscard]] bool read_regular_file(const std::string& path, std::uintmax_t limit, std::string& out,
                                     std::string& error);

} // namespace changetrail::util
