#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace changetrail::registry {

// Docker Hub's key in config.json `auths` and the server URL given to credential helpers.
inline constexpr std::string_view k_docker_hub_server = "https://index.docker.io/v1/";

// A credential for one registry host. Never printed: no operator<<, no to_json, and every error
// message built in this module leaves the secret out.
struct Credential {
  std::string username;        // empty for a helper's identity token (docker CLI does the same)
  std::string secret;          // password, or identity token when identity_token is set
  bool identity_token = false; // helper answered Username "<token>", or config.json `identitytoken`
};

// Where a credential came from, for messages ("credential helper docker-credential-pass").
struct CredentialLookup {
  std::optional<Credential> credential;
  std::string source; // "credHelpers[ghcr.io] (docker-credential-gcr)", "credsStore (...)", "auths", "--username"
                      // (a helper that found nothing: no credential, source names it; nothing: empty)
};

// The credentials of $DOCKER_CONFIG/config.json (default ~/.docker/config.json), looked up the way
// REGISTRY.md "Security" orders them: credHelpers[host], then credsStore, then auths[host].auth
// (base64 "user:pass") or auths[host].identitytoken. Registry host "docker.io" (and its aliases
// index.docker.io, registry-1.docker.io) uses the key k_docker_hub_server. `auths` keys may be
// written as "host", "https://host", "http://host/v1/" or with a path: they match by host[:port]
// (credHelpers keys too). When a helper is configured for a host its answer is final, as in the
// docker CLI: "credentials not found" means anonymous, the `auths` entry is not consulted.
class CredentialStore {
public:
  // No config file: an empty store (anonymous access). A file that is not valid JSON or has the
  // wrong shape: util::InputError naming the file (never quoting its content, which holds secrets).
  // A credHelpers or credsStore name outside [A-Za-z0-9._-] is such a shape error.
  // `docker_config_dir` empty: $DOCKER_CONFIG, else $HOME/.docker.
  static CredentialStore load(const std::string& docker_config_dir = {});

  // Credentials given on the command line (--username / --password-stdin) for one host; they take
  // precedence over the file for that host.
  void set_override(const std::string& registry_host, Credential credential);

  // Throws util::Fatal when a credential helper fails (not found on PATH, times out, exits with an
  // error other than "credentials not found", prints something that is not the expected JSON); the
  // message names the helper and the host, never its output.
  [[nodiscard]] CredentialLookup lookup(std::string_view registry_host) const;

  // The config file that was read, or empty when there was none.
  [[nodiscard]] const std::string& path() const { return m_path; }

  std::chrono::milliseconds helper_timeout{10000};

private:
  std::string m_path;
  std::map<std::string, std::string> m_cred_helpers; // host -> helper suffix
  std::string m_creds_store;
  std::map<std::string, Credential> m_auths;         // host[:port] -> credential
  std::map<std::string, Credential> m_overrides;
};

// Runs `docker-credential-<helper> get` (found on PATH, started without a shell), writes
// `server_url` on its stdin and parses {"Username","Secret"} from its stdout (capped at 64 KiB).
// Returns nullopt when the helper says the credentials are not found. Kills it after `timeout`.
// Throws util::Fatal as CredentialStore::lookup describes, util::InputError for a helper name
// outside [A-Za-z0-9._-] (it is never run: a "/" would make it a path).
[[nodiscard]] std::optional<Credential> run_credential_helper(const std::string& helper,
                                                              std::string_view server_url,
                                                              std::chrono::milliseconds timeout);

} // namespace changetrail::registry
