#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace relay::util {

// The result of an operation that can fail in an expected way (bad input, a missing file, a refused peer):
// a value or the reason there is none. The interface is the subset of C++23's std::expected the daemon uses
// (GCC 12 has none), so that switching to it later is a search and replace of the names:
//
//   util::Expected<Config, ConfigError> load_file(const std::string& path);
//   ...
//   if (!error_prone) { return util::Unexpected(ConfigError{...}); }
//   return config;
//
// Exceptions remain for start-up (main, building modules from a valid config) and programming errors: value()
// on an error and error() on a value are such errors, the former throws BadExpectedAccess like std::expected,
// the latter is undefined there and checked here (std::get throws; optional asserts in debug builds).

// The error side, wrapped so that a result whose value and error types are the same stays unambiguous.
template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : m_error(std::move(error)) {}

  const E& error() const& { return m_error; }
  E& error() & { return m_error; }
  E&& error() && { return std::move(m_error); }

 private:
  E m_error;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

// Thrown by value() when the result holds an error.
class BadExpectedAccess : public std::exception {
 public:
  const char* what() const noexcept override { return "access to the value of an Expected holding an error"; }
};

template <class T, class E>
class Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected() requires std::is_default_constructible_v<T> : m_data(std::in_place_index<0>) {}

  // A value converts implicitly, as a function's `return value;` expects.
  template <class U = T>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Expected> &&
           !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>) Expected(U&& value)
      : m_data(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT: implicit

  template <class G>
  requires std::is_constructible_v<E, const G&> Expected(const Unexpected<G>& error)
      : m_data(std::in_place_index<1>, error.error()) {}  // NOLINT

  template <class G>
  requires std::is_constructible_v<E, G&&> Expected(Unexpected<G>&& error)
      : m_data(std::in_place_index<1>, std::move(error).error()) {}  // NOLINT

  bool has_value() const noexcept { return m_data.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return checked(*this); }
  const T& value() const& { return checked(*this); }
  T&& value() && { return std::move(checked(*this)); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::move(**this) : static_cast<T>(std::forward<U>(fallback));
  }

  T& operator*() & { return std::get<0>(m_data); }
  const T& operator*() const& { return std::get<0>(m_data); }
  T&& operator*() && { return std::get<0>(std::move(m_data)); }
  T* operator->() { return &std::get<0>(m_data); }
  const T* operator->() const { return &std::get<0>(m_data); }

  E& error() & { return std::get<1>(m_data); }
  const E& error() const& { return std::get<1>(m_data); }
  E&& error() && { return std::get<1>(std::move(m_data)); }

 private:
  template <class Self>
  static auto& checked(Self& self) {
    if (!self.has_value()) {
      throw BadExpectedAccess();
    }
    return std::get<0>(self.m_data);
  }

  std::variant<T, E> m_data;
};

// Success without a value, or the reason for failing.
template <class E>
class Expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Expected() = default;

  template <class G>
  requires std::is_constructible_v<E, const G&> Expected(const Unexpected<G>& error)
      : m_error(std::in_place, error.error()) {}  // NOLINT

  template <class G>
  requires std::is_constructible_v<E, G&&> Expected(Unexpected<G>&& error)
      : m_error(std::in_place, std::move(error).error()) {}  // NOLINT

  bool has_value() const noexcept { return !m_error.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  void value() const {
    if (!has_value()) {
      throw BadExpectedAccess();
    }
  }
  void operator*() const noexcept {}

  E& error() & { return *m_error; }
  const E& error() const& { return *m_error; }
  E&& error() && { return std::move(*m_error); }

 private:
  std::optional<E> m_error;
};

}  // namespace relay::util
