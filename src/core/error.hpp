// Errors raised by the pure C++ core, and how any C++ exception is described
// to PostgreSQL. Nothing here includes PostgreSQL headers: the guard in
// src/pg/boundary/guard.hpp turns an ErrorReport into an ereport() once every C++
// object of the failed call has been destroyed.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace iam {

// The SQLSTATEs of the product contract (docs/security.md, "Errors").
namespace sqlstate {
inline constexpr std::string_view invalid_parameter_value = "22023";
inline constexpr std::string_view undefined_object = "42704";
inline constexpr std::string_view unique_violation = "23505";
inline constexpr std::string_view foreign_key_violation = "23503";
inline constexpr std::string_view no_data_found = "P0002";
inline constexpr std::string_view insufficient_privilege = "42501";
inline constexpr std::string_view invalid_authorization = "28000";
inline constexpr std::string_view trigger_protocol_violated = "39P01";
inline constexpr std::string_view out_of_memory = "53200";
inline constexpr std::string_view configuration_limit_exceeded = "53400";
inline constexpr std::string_view read_only_sql_transaction = "25006";
inline constexpr std::string_view object_not_in_prerequisite_state = "55000";
inline constexpr std::string_view internal_error = "XX000";
}  // namespace sqlstate

// True for five characters from [0-9A-Z], the shape of every SQLSTATE.
bool is_valid_sqlstate(std::string_view code) noexcept;

// An error with a SQLSTATE, thrown by the core and by the glue alike.
class Error : public std::runtime_error {
  public:
    // A malformed SQLSTATE is a programming error; it is reported as XX000
    // rather than passed on to PostgreSQL.
    Error(std::string_view sqlstate, const std::string& message, std::string detail = {},
          std::string hint = {});

    const std::string& sqlstate() const noexcept { return sqlstate_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::string& hint() const noexcept { return hint_; }

  private:
    std::string sqlstate_;
    std::string detail_;
    std::string hint_;
};

// What PostgreSQL should report for a C++ exception.
struct ErrorReport {
    std::string sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
};

// Describes the exception currently being handled; call it only inside a
// catch block. Never throws: an exception while describing is reported as
// out of memory.
ErrorReport describe_current_exception() noexcept;

}  // namespace iam
