#include <changetrail/util/file.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace changetrail::util {

namespace {

class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  [[nodiscard]] int get() const { return m_fd; }

private:
  int m_fd;
};

std::string size_text(std::uintmax_t bytes)
{
  if (bytes >= (std::uintmax_t{1} << 20)) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

} // namespace

bool read_regular_file(const std::string& path, std::uintmax_t limit, std::string& out, std::string& error)
{
  const Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "not a regular file (a FIFO, socket or device); not read";
    return false;
  }
  const auto size = static_cast<std::uintmax_t>(st.st_size);
  if (size > limit) {
    error = "file is " + size_text(size) + ", over the " + size_text(limit) + " limit; not read";
    return false;
  }
  out.resize(static_cast<std::size_t>(size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      error = std::string("cannot read: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      break; // the file shrank while we read it: keep what is there
    }
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return true;
}

} // namespace changetrail::util
