#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace changetrail::test {

TempDir::TempDir()
{
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/changetrail-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  }
  m_path = templ;
}

TempDir::~TempDir()
{
  if (current_test_failed() || std::getenv("CHANGETRAIL_KEEP_TEMP") != nullptr) {
    std::cerr << "kept test directory " << m_path << '\n';
    return;
  }
  std::error_code ec;
  // Tests make unreadable files and directories; make them removable again first.
  for (auto it = fs::recursive_directory_iterator(m_path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code pec;
    if (!it->is_symlink(pec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, pec);
    }
  }
  fs::remove_all(m_path, ec);
}

fs::path TempDir::write(const std::string& rel, const std::string& content) const
{
  const fs::path p = m_path / rel;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    throw std::runtime_error("cannot write " + p.string());
  }
  return p;
}

std::string read_file(const fs::path& p)
{
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path corpora_dir()
{
  if (const char* env = std::getenv("CHANGETRAIL_CORPORA"); env != nullptr && *env != '\0') {
    return env;
  }
  const fs::path p = fs::path(CHANGETRAIL_SOURCE_DIR).parent_path() / "shared" / "corpora";
  std::error_code ec;
  return fs::is_directory(p, ec) ? p : fs::path{};
}

RunResult run(const std::vector<std::string>& argv, const std::string& cwd, const std::string& input,
              const std::vector<std::string>& env, int timeout_seconds)
{
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      _exit(127);
    }
    for (const auto& e : env) {
      putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  std::size_t written = 0;
  if (input.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  RunResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    if (out_open) {
      fds[n++] = {out_pipe[0], POLLIN, 0};
    }
    if (err_open) {
      fds[n++] = {err_pipe[0], POLLIN, 0};
    }
    if (in_pipe[1] >= 0) {
      fds[n++] = {in_pipe[1], POLLOUT, 0};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      r.err += "\n[killed by the test after " + std::to_string(timeout_seconds) + " s]";
      break;
    }
    if (poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].fd == in_pipe[1] && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
        const auto k = write(in_pipe[1], input.data() + written, input.size() - written);
        if (k > 0) {
          written += static_cast<std::size_t>(k);
        }
        if (k <= 0 || written == input.size()) {
          close(in_pipe[1]);
          in_pipe[1] = -1;
        }
        continue;
      }
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char buf[65536];
      const auto k = read(fds[i].fd, buf, sizeof buf);
      std::string& target = fds[i].fd == out_pipe[0] ? r.out : r.err;
      if (k > 0) {
        target.append(buf, static_cast<std::size_t>(k));
      } else {
        (fds[i].fd == out_pipe[0] ? out_open : err_open) = false;
      }
    }
  }
  if (in_pipe[1] >= 0) {
    close(in_pipe[1]);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult run_changetrail(const std::vector<std::string>& args, const std::string& cwd, const std::vector<std::string>& env)
{
  std::vector<std::string> argv{CHANGETRAIL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, cwd, {}, env);
}

std::vector<TsvRow> read_tsv(const std::filesystem::path& p)
{
  std::vector<TsvRow> rows;
  const std::string text = read_file(p);
  std::size_t number = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    ++number;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    TsvRow row{number, line, {}};
    std::size_t start = 0;
    for (std::size_t tab = line.find('\t'); tab != std::string::npos; tab = line.find('\t', start)) {
      row.columns.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    row.columns.push_back(line.substr(start));
    rows.push_back(std::move(row));
  }
  return rows;
}

} // namespace changetrail::test
