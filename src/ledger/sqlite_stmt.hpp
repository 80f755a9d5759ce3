#pragma once

// SQLite statements for the ledger's implementation files (private to src/ledger/).

#include <changetrail/util/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace changetrail::ledger::detail {

inline util::InputError corrupt(const std::string& path, const std::string& why)
{
  return util::InputError("ledger " + path + " is corrupt (" + why
                          + "); move it away and scan again, or `changetrail ledger rebuild`");
}

class Stmt {
public:
  // Borrows a statement prepared by the ledger: reset, not finalized, when done.
  Stmt(sqlite3* db, sqlite3_stmt* prepared, const std::string& ledger_path)
    : m_db(db), m_stmt(prepared), m_path(&ledger_path), m_owned(false)
  {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  Stmt(sqlite3* db, const char* sql, const std::string& ledger_path) : m_db(db)
  {
    if (const int rc = sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr); rc != SQLITE_OK) {
      if ((rc & 0xFF) == SQLITE_CORRUPT || (rc & 0xFF) == SQLITE_NOTADB) {
        throw corrupt(ledger_path, sqlite3_errmsg(db));
      }
      throw util::Fatal("ledger " + ledger_path + ": " + sqlite3_errmsg(db));
    }
    m_path = &ledger_path;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt()
  {
    if (m_owned) {
      sqlite3_finalize(m_stmt);
    } else {
      sqlite3_reset(m_stmt);
    }
  }

  Stmt& bind(int i, std::int64_t v)
  {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v)
  {
    sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // True while there is a row.
  bool step()
  {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    const int code = rc & 0xFF;
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
      throw corrupt(*m_path, sqlite3_errmsg(m_db));
    }
    throw util::Fatal("ledger " + *m_path + ": " + sqlite3_errmsg(m_db));
  }
  void run()
  {
    while (step()) {
    }
    sqlite3_reset(m_stmt);
  }
  void reset()
  {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  [[nodiscard]] std::int64_t integer(int col) const { return sqlite3_column_int64(m_stmt, col); }
  [[nodiscard]] bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  void text_into(int col, std::string& out) const
  {
    const auto* p = sqlite3_column_text(m_stmt, col);
    if (p == nullptr) {
      out.clear();
    } else {
      out.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)));
    }
  }
  [[nodiscard]] std::string text(int col) const
  {
    const auto* p = sqlite3_column_text(m_stmt, col);
    return p == nullptr ? std::string{} : std::string(reinterpret_cast<const char*>(p),
                                                      static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)));
  }

private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
  const std::string* m_path = nullptr;
  bool m_owned = true;
};

} // namespace changetrail::ledger::detail
