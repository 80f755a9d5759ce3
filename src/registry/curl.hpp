#pragma once

// libcurl, loaded when the first registry request is made. Linking it cost every process 13 ms
// of start-up (it pulls in Kerberos, LDAP and GnuTLS), paid by hooks, queries and incremental
// scans that never talk to a registry (docs/ARCHITECTURE.md "Registry client"). Only this file
// pair sees the function pointers; the rest of the module uses the RAII types below.

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <memory>
#include <string>

namespace changetrail::registry::curl {

// The libcurl functions the client calls, resolved with dlsym from the shared library.
struct Api {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
  decltype(&::curl_url) url;
  decltype(&::curl_url_cleanup) url_cleanup;
  decltype(&::curl_url_set) url_set;
  decltype(&::curl_url_get) url_get;
  decltype(&::curl_free) free;
  decltype(&::curl_version_info) version_info;
};

// Loads libcurl once per process (thread-safe) and runs curl_global_init. Throws util::Fatal
// when the library or one of its functions is missing, or when it was built without TLS.
const Api& api();

struct EasyDeleter {
  void operator()(CURL* h) const noexcept;
};
struct MultiDeleter {
  void operator()(CURLM* h) const noexcept;
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept;
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Multi = std::unique_ptr<CURLM, MultiDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// The parts of an absolute URL, parsed by libcurl's own URL parser so that the client and the
// transfer agree on what the host is. Port is the explicit or the scheme's default port.
struct Url {
  std::string scheme; // lower case
  std::string host;   // lower case, IPv6 without brackets
  int port = 0;
  std::string path_and_query;
  bool has_userinfo = false;
  // "host" or "host:port" when the port is not the scheme's default, IPv6 in brackets.
  [[nodiscard]] std::string authority() const;
  [[nodiscard]] std::string text() const; // scheme://authority/path?query
};

// Parses `url`, relative to `base` when it is relative (a Location header). nullopt-like: returns
// false when it is not a URL libcurl accepts.
bool parse_url(const std::string& url, Url& out, const std::string& base = {});

} // namespace changetrail::registry::curl
