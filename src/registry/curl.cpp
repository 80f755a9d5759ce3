#include "curl.hpp"

#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>

#include <dlfcn.h>

#include <mutex>

#ifndef CHANGETRAIL_LIBCURL_SONAME
#define CHANGETRAIL_LIBCURL_SONAME "libcurl.so.4"
#endif

namespace changetrail::registry::curl {
namespace {

template <typename F>
void resolve(void* lib, F& f, const char* name)
{
  void* p = dlsym(lib, name);
  if (p == nullptr) {
    throw util::Fatal(std::string("libcurl (" CHANGETRAIL_LIBCURL_SONAME ") has no function ") + name
                      + ": install libcurl4 7.68 or later");
  }
  f = reinterpret_cast<F>(p);
}

Api load()
{
  // RTLD_LOCAL: its symbols stay out of the global namespace, so nothing else binds to them.
  void* lib = dlopen(CHANGETRAIL_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw util::Fatal(std::string("cannot load libcurl (" CHANGETRAIL_LIBCURL_SONAME "), needed to talk to registries: ")
                      + (why != nullptr ? why : "unknown error") + "; apt-get install libcurl4");
  }
  Api a{};
  resolve(lib, a.easy_init, "curl_easy_init");
  resolve(lib, a.easy_cleanup, "curl_easy_cleanup");
  resolve(lib, a.easy_setopt, "curl_easy_setopt");
  resolve(lib, a.easy_getinfo, "curl_easy_getinfo");
  resolve(lib, a.easy_strerror, "curl_easy_strerror");
  resolve(lib, a.multi_init, "curl_multi_init");
  resolve(lib, a.multi_cleanup, "curl_multi_cleanup");
  resolve(lib, a.multi_setopt, "curl_multi_setopt");
  resolve(lib, a.multi_add_handle, "curl_multi_add_handle");
  resolve(lib, a.multi_remove_handle, "curl_multi_remove_handle");
  resolve(lib, a.multi_perform, "curl_multi_perform");
  resolve(lib, a.multi_poll, "curl_multi_poll");
  resolve(lib, a.multi_info_read, "curl_multi_info_read");
  resolve(lib, a.multi_strerror, "curl_multi_strerror");
  resolve(lib, a.slist_append, "curl_slist_append");
  resolve(lib, a.slist_free_all, "curl_slist_free_all");
  resolve(lib, a.url, "curl_url");
  resolve(lib, a.url_cleanup, "curl_url_cleanup");
  resolve(lib, a.url_set, "curl_url_set");
  resolve(lib, a.url_get, "curl_url_get");
  resolve(lib, a.free, "curl_free");
  resolve(lib, a.version_info, "curl_version_info");
  decltype(&::curl_global_init) global_init = nullptr;
  resolve(lib, global_init, "curl_global_init");
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    throw util::Fatal("libcurl failed to initialise");
  }
  const curl_version_info_data* v = a.version_info(CURLVERSION_NOW);
  if (v == nullptr || (v->features & CURL_VERSION_SSL) == 0) {
    throw util::Fatal("libcurl (" CHANGETRAIL_LIBCURL_SONAME ") was built without TLS support");
  }
  // The library stays loaded until the process ends: handles may be freed during exit.
  return a;
}

} // namespace

const Api& api()
{
  static std::once_flag once;
  static Api a;
  static std::string failure;
  std::call_once(once, [] {
    try {
      a = load();
    } catch (const util::Fatal& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) {
    throw util::Fatal(failure);
  }
  return a;
}

void EasyDeleter::operator()(CURL* h) const noexcept
{
  api().easy_cleanup(h);
}

void MultiDeleter::operator()(CURLM* h) const noexcept
{
  api().multi_cleanup(h);
}

void SlistDeleter::operator()(curl_slist* l) const noexcept
{
  api().slist_free_all(l);
}

std::string Url::authority() const
{
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const int default_port = scheme == "https" ? 443 : scheme == "http" ? 80 : 0;
  if (port != 0 && port != default_port) {
    h += ":" + std::to_string(port);
  }
  return h;
}

std::string Url::text() const
{
  return scheme + "://" + authority() + path_and_query;
}

bool parse_url(const std::string& url, Url& out, const std::string& base)
{
  const Api& c = api();
  struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { api().url_cleanup(u); }
  };
  std::unique_ptr<CURLU, UrlDeleter> u(c.url());
  if (!u) {
    return false;
  }
  if (!base.empty() && c.url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) {
    return false;
  }
  // Without a base only absolute http(s) URLs are accepted (no guessing of a scheme).
  if (c.url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return false;
  }
  auto part = [&](CURLUPart p, std::string& value, unsigned flags = 0) {
    char* s = nullptr;
    CURLUcode rc = c.url_get(u.get(), p, &s, flags);
    if (rc != CURLUE_OK) {
      value.clear();
      return false;
    }
    value = s;
    c.free(s);
    return true;
  };
  std::string port;
  std::string user;
  std::string query;
  if (!part(CURLUPART_SCHEME, out.scheme) || !part(CURLUPART_HOST, out.host)
      || !part(CURLUPART_PORT, port, CURLU_DEFAULT_PORT) || !part(CURLUPART_PATH, out.path_and_query)) {
    return false;
  }
  out.scheme = util::to_lower(out.scheme);
  out.host = util::to_lower(out.host);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = std::atoi(port.c_str());
  out.has_userinfo = part(CURLUPART_USER, user) || part(CURLUPART_PASSWORD, user);
  if (part(CURLUPART_QUERY, query)) {
    out.path_and_query += "?" + query;
  }
  return out.scheme == "http" || out.scheme == "https";
}

} // namespace changetrail::registry::curl
