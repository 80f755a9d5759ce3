# Every dependency is a Debian package; each failure names the package to install
# (ci/install-deps.sh installs all of them).
find_package(PkgConfig)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

pkg_check_modules(LIBGIT2 IMPORTED_TARGET libgit2)
if(NOT LIBGIT2_FOUND)
  message(FATAL_ERROR "libgit2 not found: apt-get install libgit2-dev")
endif()

pkg_check_modules(LIBFYAML IMPORTED_TARGET libfyaml)
if(NOT LIBFYAML_FOUND)
  message(FATAL_ERROR "libfyaml not found: apt-get install libfyaml-dev")
endif()

find_package(CURL)
if(NOT CURL_FOUND)
  message(FATAL_ERROR "libcurl not found: apt-get install libcurl4-openssl-dev")
endif()

find_package(SQLite3)
if(NOT SQLite3_FOUND)
  message(FATAL_ERROR "SQLite3 not found: apt-get install libsqlite3-dev")
endif()

find_package(OpenSSL)
if(NOT OpenSSL_FOUND)
  message(FATAL_ERROR "OpenSSL not found: apt-get install libssl-dev")
endif()

find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "nlohmann_json not found: apt-get install nlohmann-json3-dev")
endif()

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  message(FATAL_ERROR "CLI11 not found: apt-get install libcli11-dev")
endif()

find_package(Threads REQUIRED)

if(CHANGETRAIL_TESTS)
  find_package(Catch2 2 QUIET)
  if(NOT Catch2_FOUND)
    message(FATAL_ERROR "Catch2 v2 not found: apt-get install catch2 (or configure with -DCHANGETRAIL_TESTS=OFF)")
  endif()
endif()
