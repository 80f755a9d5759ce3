#include "hook.hpp"

#include <changetrail/git/git.hpp>
#include <changetrail/util/error.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <unistd.h>
#include <utility>
#include <vector>

// Generated from hooks/ by src/CMakeLists.txt: the installed hooks are the shipped files.
#include "hook_scripts.hpp"

namespace changetrail::cli {

namespace {

namespace fs = std::filesystem;

// Every hook script of ours carries this on its second line; a hook without it is someone else's.
constexpr std::string_view k_marker = "marker: changetrail-hook";
constexpr std::string_view k_chained_suffix = ".changetrail-chained";

std::optional<std::string> read_text(const fs::path& p)
{
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_ours(const fs::path& hook)
{
  const auto text = read_text(hook);
  return text && text->find(k_marker) != std::string::npos;
}

// Writes through a temporary name and a rename, so git never runs half a hook.
void write_hook(const fs::path& path, std::string_view text)
{
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      const std::string why = std::strerror(errno);
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw util::Fatal(path.string() + ": cannot write the hook: " + why);
    }
  }
  std::error_code ec;
  fs::permissions(tmp,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                      fs::perms::others_exec,
                  ec);
  if (!ec) {
    fs::rename(tmp, path, ec);
  }
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw util::Fatal(path.string() + ": cannot write the hook: " + ec.message());
  }
}

void rename_or_throw(const fs::path& from, const fs::path& to)
{
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    throw util::Fatal("cannot rename " + from.string() + " to " + to.string() + ": " + ec.message());
  }
}

bool present(const fs::path& p)
{
  std::error_code ec;
  return fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec;
}

void install_one(const fs::path& dir, const std::string& name, std::string_view script)
{
  const fs::path hook = dir / name;
  const fs::path chained = dir / (name + std::string(k_chained_suffix));
  if (present(hook) && is_ours(hook)) {
    if (read_text(hook) == std::string(script)) {
      std::cout << name << ": already installed in " << dir.string() << "\n";
      return;
    }
    write_hook(hook, script); // an older version of ours: the chained hook, if any, stays chained
    std::cout << name << ": updated in " << dir.string() << "\n";
    return;
  }
  std::string kept;
  if (present(hook)) {
    // Someone else's hook is never overwritten: ours runs it first (hooks/<name>).
    if (present(chained)) {
      throw util::Fatal(hook.string() + " is not changetrail's and " + chained.string() +
                        " exists already: not overwriting either");
    }
    rename_or_throw(hook, chained);
    kept = " (the existing hook is kept as " + chained.filename().string() + " and runs first)";
  }
  write_hook(hook, script);
  std::cout << name << ": installed in " << dir.string() << kept << "\n";
}

void uninstall_one(const fs::path& dir, const std::string& name)
{
  const fs::path hook = dir / name;
  const fs::path chained = dir / (name + std::string(k_chained_suffix));
  if (!present(hook) || !is_ours(hook)) {
    std::cout << name << ": not installed in " << dir.string() << "\n";
    return;
  }
  if (present(chained)) {
    rename_or_throw(chained, hook);
    std::cout << name << ": removed from " << dir.string() << ", the previous hook restored\n";
    return;
  }
  std::error_code ec;
  fs::remove(hook, ec);
  if (ec) {
    throw util::Fatal("cannot remove " + hook.string() + ": " + ec.message());
  }
  std::cout << name << ": removed from " << dir.string() << "\n";
}

void add_hook_flags(CLI::App& sub, HookOptions& options)
{
  sub.add_flag("--pre-commit", options.pre_commit, "The pre-commit hook (check --staged)");
  sub.add_flag("--pre-push", options.pre_push, "The pre-push hook (check --range of what is pushed)");
  sub.add_option("--repo", options.repo, "The repository (default: the one containing the current directory)");
}

} // namespace

CLI::App* register_hook(CLI::App& app, HookOptions& options)
{
  auto* hook = app.add_subcommand("hook", "Install or remove the git hooks that run check before a commit or a push");
  hook->require_subcommand(1);
  auto* install = hook->add_subcommand(
      "install", "Install the hooks (both unless one is named), honouring core.hooksPath; an existing hook is chained");
  add_hook_flags(*install, options);
  install->callback([&options] { options.install = true; });
  auto* uninstall = hook->add_subcommand("uninstall", "Remove the hooks and restore the ones they chained");
  add_hook_flags(*uninstall, options);
  return hook;
}

int run_hook(const Globals& /*globals*/, const HookOptions& options)
{
  const git::Repository repo = git::Repository::open(options.repo.empty() ? std::string(".") : options.repo);
  const fs::path dir = repo.hooks_dir();
  std::vector<std::pair<std::string, std::string_view>> hooks;
  const bool both = !options.pre_commit && !options.pre_push;
  if (options.pre_commit || both) {
    hooks.emplace_back("pre-commit", k_pre_commit_script);
  }
  if (options.pre_push || both) {
    hooks.emplace_back("pre-push", k_pre_push_script);
  }
  if (options.install) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      throw util::Fatal("cannot create " + dir.string() + ": " + ec.message());
    }
  }
  for (const auto& [name, script] : hooks) {
    if (options.install) {
      install_one(dir, name, script);
    } else {
      uninstall_one(dir, name);
    }
  }
  return util::k_exit_clean;
}

} // namespace changetrail::cli
