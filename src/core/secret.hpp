// A secret held in a std::string (an API key, a header that carries one),
// wiped with sodium_memzero whenever its holder goes away: on return, and
// when an exception unwinds past it. The whole buffer is wiped, not only the
// current length: a string that shrank keeps older bytes beyond its size,
// and a short string moved away leaves its bytes in the source's buffer.
#pragma once

#include <sodium.h>

#include <string>
#include <string_view>
#include <utility>

namespace iam {

class Secret {
  public:
    Secret() = default;
    // Takes the string's bytes and wipes what the move leaves in it (a short
    // string's bytes stay in its own buffer).
    explicit Secret(std::string&& value) noexcept : value_(std::move(value)) {
        sodium_memzero(value.data(), value.capacity());
        value.clear();
    }
    Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    Secret& operator=(Secret&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret() { wipe(); }

    std::string_view view() const noexcept { return value_; }
    const char* data() const noexcept { return value_.data(); }
    size_t size() const noexcept { return value_.size(); }
    bool empty() const noexcept { return value_.empty(); }

    // Zeroes every byte the string owns and leaves it empty.
    void wipe() noexcept {
        sodium_memzero(value_.data(), value_.capacity());
        value_.clear();
    }

  private:
    std::string value_;
};

}  // namespace iam
