#include "core/json_members.hpp"

#include "core/hex.hpp"

#include <array>
#include <cstdint>

namespace iam {

namespace {

// numeric's limits (src/backend/utils/adt/numeric.c): an exponent is refused
// from INT_MAX / 2 on, the display scale is 14 bits, and the weight of the
// first non-zero base-10000 digit must fit an int16.
constexpr int64_t numeric_exponent_limit = 1073741823;
constexpr int64_t numeric_max_dscale = 16383;
constexpr int64_t numeric_max_leading_power = 4 * 32767 + 3;

// Whether jsonb can store the number whose JSON spelling has these digits
// before and after the point and this exponent (saturated), i.e. whether
// numeric_in would accept it.
bool fits_numeric(std::string_view integer, std::string_view fraction, int64_t exponent) {
    if (exponent >= numeric_exponent_limit || exponent <= -numeric_exponent_limit)
        return false;
    if (static_cast<int64_t>(fraction.size()) - exponent > numeric_max_dscale)
        return false;
    // The power of ten of the first non-zero digit; zero has none, whatever
    // its exponent.
    int64_t power;
    size_t first = integer.find_first_not_of('0');
    if (first != std::string_view::npos) {
        power = static_cast<int64_t>(integer.size() - 1 - first) + exponent;
    } else {
        first = fraction.find_first_not_of('0');
        if (first == std::string_view::npos)
            return true;
        power = -1 - static_cast<int64_t>(first) + exponent;
    }
    return power <= numeric_max_leading_power;
}

// The length of the well-formed UTF-8 sequence starting at text[pos] (Unicode
// table 3-7, as PostgreSQL's pg_utf8_islegal: no overlong forms, surrogates
// or code points above U+10FFFF), or 0 if there is none.
size_t utf8_sequence_length(std::string_view text, size_t pos) {
    auto byte = [&](size_t i) -> unsigned {
        return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : 0;
    };
    auto continuation = [&](size_t i) { return byte(i) >= 0x80 && byte(i) <= 0xBF; };
    unsigned lead = byte(0);
    if (lead < 0x80)
        return 1;
    if (lead < 0xC2)
        return 0;
    if (lead < 0xE0)
        return continuation(1) ? 2 : 0;
    if (lead < 0xF0) {
        unsigned low = lead == 0xE0 ? 0xA0 : 0x80;
        unsigned high = lead == 0xED ? 0x9F : 0xBF;
        return byte(1) >= low && byte(1) <= high && continuation(2) ? 3 : 0;
    }
    if (lead < 0xF5) {
        unsigned low = lead == 0xF0 ? 0x90 : 0x80;
        unsigned high = lead == 0xF4 ? 0x8F : 0xBF;
        return byte(1) >= low && byte(1) <= high && continuation(2) && continuation(3) ? 4 : 0;
    }
    return 0;
}

// Receivers of a string's decoded bytes, handed over in pieces.
struct DiscardSink {
    void operator()(const char*, size_t) {}
};

// Compares with the wanted key as the pieces arrive, so that no key is ever
// copied.
struct KeySink {
    std::string_view wanted;
    size_t length = 0;
    bool prefix = true;

    void operator()(const char* data, size_t size) {
        if (prefix && (length + size > wanted.size() ||
                       wanted.substr(length, size) != std::string_view(data, size))) {
            prefix = false;
        }
        length += size;
    }
    bool is_wanted() const { return prefix && length == wanted.size(); }
};

// A KeySink for each member asked for, fed the same pieces.
struct KeysSink {
    std::array<KeySink, max_scanned_members> keys;
    size_t count;

    void operator()(const char* data, size_t size) {
        for (size_t i = 0; i < count; ++i)
            keys[i](data, size);
    }
    // The index of the member this key is, or count if none.
    size_t wanted() const {
        for (size_t i = 0; i < count; ++i)
            if (keys[i].is_wanted())
                return i;
        return count;
    }
};

struct AppendSink {
    std::string& out;

    void operator()(const char* data, size_t size) { out.append(data, size); }
};

// What the scanned document holds under the member asked for.
enum class MemberState { absent, string, not_string };

class Scanner {
  public:
    // `members` (at most max_scanned_members) are the top-level keys whose
    // values scan_document notes; none for a scanner used for scan_string
    // alone.
    Scanner(std::string_view text, const std::string_view* members = nullptr, size_t count = 0)
        : text_(text), member_count_(count) {
        for (size_t i = 0; i < count; ++i)
            members_[i] = members[i];
    }

    // Validates the whole text as a JSON object jsonb accepts, noting the
    // last top-level value of each member asked for. Iterative, with the
    // open containers in a fixed array: the input cannot make it use more
    // stack.
    bool scan_document() {
        std::array<bool, max_claims_depth> is_object;
        size_t depth = 0;
        skip_whitespace();
        if (!consume('{'))
            return false;
        is_object[depth++] = true;
        bool after_value = false;  // false right after '{' or '['
        for (;;) {
            skip_whitespace();
            if (consume(is_object[depth - 1] ? '}' : ']')) {
                if (--depth == 0)
                    break;
                after_value = true;
                continue;
            }
            if (after_value) {
                if (!consume(','))
                    return false;
                skip_whitespace();
            }
            size_t member = member_count_;  // member_count_: not one asked for
            if (is_object[depth - 1]) {
                if (!at('"'))
                    return false;
                if (depth == 1 && member_count_ > 0) {
                    KeysSink key{{}, member_count_};
                    for (size_t i = 0; i < member_count_; ++i)
                        key.keys[i].wanted = members_[i];
                    if (!scan_string(key))
                        return false;
                    member = key.wanted();
                } else {
                    DiscardSink key;
                    if (!scan_string(key))
                        return false;
                }
                skip_whitespace();
                if (!consume(':'))
                    return false;
                skip_whitespace();
            }
            if (at('{') || at('[')) {
                if (depth == max_claims_depth)
                    return false;
                is_object[depth++] = at('{');
                ++pos_;
                if (member < member_count_)
                    member_states_[member] = MemberState::not_string;
                after_value = false;
                continue;
            }
            if (at('"')) {
                size_t start = pos_;
                DiscardSink value;
                if (!scan_string(value))
                    return false;
                if (member < member_count_) {
                    member_states_[member] = MemberState::string;
                    member_tokens_[member] = text_.substr(start, pos_ - start);
                }
            } else {
                if (!scan_scalar())
                    return false;
                if (member < member_count_)
                    member_states_[member] = MemberState::not_string;
            }
            after_value = true;
        }
        skip_whitespace();
        return pos_ == text_.size();
    }

    MemberState member(size_t i) const { return member_states_[i]; }
    // The last top-level string of member i as spelt in the text, quotes
    // included.
    std::string_view member_token(size_t i) const { return member_tokens_[i]; }

    // Scans the string whose opening quote is at the current position,
    // passing its decoded bytes to sink; false if it is malformed or too
    // long for jsonb.
    template <typename Sink>
    bool scan_string(Sink& sink) {
        ++pos_;
        size_t decoded = 0;
        size_t run = pos_;  // start of the bytes not yet passed to sink
        auto flush = [&] {
            sink(text_.data() + run, pos_ - run);
            decoded += pos_ - run;
        };
        while (pos_ < text_.size()) {
            unsigned char c = static_cast<unsigned char>(text_[pos_]);
            if (c == '"') {
                flush();
                ++pos_;
                return decoded <= max_claims_string_bytes;
            }
            if (c == '\\') {
                flush();
                if (!scan_escape(sink, decoded))
                    return false;
                run = pos_;
            } else if (c < 0x20) {
                return false;  // control characters must be escaped
            } else if (c < 0x80) {
                ++pos_;
            } else {
                size_t length = utf8_sequence_length(text_, pos_);
                if (length == 0)
                    return false;
                pos_ += length;
            }
        }
        return false;  // unterminated
    }

  private:
    bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

    bool at_digit() const {
        return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9';
    }

    bool consume(char c) {
        if (!at(c))
            return false;
        ++pos_;
        return true;
    }

    bool consume(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word)
            return false;
        pos_ += word.size();
        return true;
    }

    void skip_whitespace() {
        while (at(' ') || at('\t') || at('\n') || at('\r'))
            ++pos_;
    }

    // A number, true, false or null. What may follow it (a letter after
    // "true", a second '.') is left for the caller to reject.
    bool scan_scalar() {
        if (at('t'))
            return consume("true");
        if (at('f'))
            return consume("false");
        if (at('n'))
            return consume("null");
        return scan_number();
    }

    bool scan_number() {
        consume('-');
        size_t integer_start = pos_;
        if (!at_digit())
            return false;
        if (!consume('0')) {
            while (at_digit())
                ++pos_;
        }
        std::string_view integer = text_.substr(integer_start, pos_ - integer_start);
        std::string_view fraction;
        if (consume('.')) {
            size_t fraction_start = pos_;
            while (at_digit())
                ++pos_;
            if (pos_ == fraction_start)
                return false;
            fraction = text_.substr(fraction_start, pos_ - fraction_start);
        }
        int64_t exponent = 0;
        if (consume('e') || consume('E')) {
            bool negative = consume('-');
            if (!negative)
                consume('+');
            size_t exponent_start = pos_;
            for (; at_digit(); ++pos_) {
                // Saturates far beyond numeric's limit, as strtol does beyond
                // LONG_MAX, so that any number of digits is harmless.
                if (exponent < numeric_exponent_limit)
                    exponent = exponent * 10 + (text_[pos_] - '0');
            }
            if (pos_ == exponent_start)
                return false;
            if (negative)
                exponent = -exponent;
        }
        return fits_numeric(integer, fraction, exponent);
    }

    // The escape at the current backslash, as PostgreSQL's JSON lexer
    // decodes it for jsonb in a UTF-8 database.
    template <typename Sink>
    bool scan_escape(Sink& sink, size_t& decoded) {
        if (text_.size() - pos_ < 2)
            return false;
        char escaped = text_[pos_ + 1];
        pos_ += 2;
        if (escaped == 'u')
            return scan_unicode_escape(sink, decoded);
        static constexpr std::string_view letters = "\"\\/bfnrt";
        static constexpr std::string_view meanings = "\"\\/\b\f\n\r\t";
        size_t which = letters.find(escaped);
        if (which == std::string_view::npos)
            return false;
        char simple = meanings[which];
        sink(&simple, 1);
        decoded += 1;
        return true;
    }

    // Four hex digits after "\u", or -1.
    int32_t scan_hex4() {
        if (text_.size() - pos_ < 4)
            return -1;
        int32_t value = 0;
        for (size_t i = 0; i < 4; ++i) {
            int digit = hex_value(text_[pos_ + i]);
            if (digit < 0)
                return -1;
            value = value << 4 | digit;
        }
        pos_ += 4;
        return value;
    }

    template <typename Sink>
    bool scan_unicode_escape(Sink& sink, size_t& decoded) {
        int32_t code = scan_hex4();
        if (code < 0)
            return false;
        // jsonb cannot hold U+0000: text cannot contain a NUL byte.
        if (code == 0)
            return false;
        if (code >= 0xDC00 && code <= 0xDFFF)
            return false;  // low surrogate first
        if (code >= 0xD800 && code <= 0xDBFF) {
            if (!consume('\\') || !consume('u'))
                return false;
            int32_t low = scan_hex4();
            if (low < 0xDC00 || low > 0xDFFF)
                return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        char utf8[4];
        size_t length;
        if (code < 0x80) {
            utf8[0] = static_cast<char>(code);
            length = 1;
        } else if (code < 0x800) {
            utf8[0] = static_cast<char>(0xC0 | code >> 6);
            utf8[1] = static_cast<char>(0x80 | (code & 0x3F));
            length = 2;
        } else if (code < 0x10000) {
            utf8[0] = static_cast<char>(0xE0 | code >> 12);
            utf8[1] = static_cast<char>(0x80 | (code >> 6 & 0x3F));
            utf8[2] = static_cast<char>(0x80 | (code & 0x3F));
            length = 3;
        } else {
            utf8[0] = static_cast<char>(0xF0 | code >> 18);
            utf8[1] = static_cast<char>(0x80 | (code >> 12 & 0x3F));
            utf8[2] = static_cast<char>(0x80 | (code >> 6 & 0x3F));
            utf8[3] = static_cast<char>(0x80 | (code & 0x3F));
            length = 4;
        }
        sink(utf8, length);
        decoded += length;
        return true;
    }

    std::string_view text_;
    size_t pos_ = 0;
    std::array<std::string_view, max_scanned_members> members_;
    size_t member_count_;
    std::array<MemberState, max_scanned_members> member_states_{
        MemberState::absent, MemberState::absent, MemberState::absent};
    std::array<std::string_view, max_scanned_members> member_tokens_;
};

}  // namespace

std::optional<std::string> jwt_claim_sub(std::string_view claims_json) noexcept {
    return json_string_member(claims_json, "sub");
}

void json_string_members(std::string_view json, const std::string_view* names, size_t count,
                         std::optional<std::string>* values) noexcept {
    for (size_t i = 0; i < count; ++i)
        values[i].reset();
    if (count == 0 || count > max_scanned_members)
        return;
    try {
        Scanner document(json, names, count);
        if (!document.scan_document())
            return;
        for (size_t i = 0; i < count; ++i) {
            if (document.member(i) != MemberState::string)
                continue;
            // Only the member that counts is decoded, once the whole
            // document is known to be valid: earlier duplicates cost no
            // allocation.
            std::string_view token_text = document.member_token(i);
            Scanner token(token_text);
            std::string value;
            value.reserve(token_text.size() - 2);
            AppendSink sink{value};
            token.scan_string(sink);
            values[i] = std::move(value);
        }
    } catch (...) {
        // Only std::bad_alloc, from a returned string: no values, as for
        // any claims we cannot read.
        for (size_t i = 0; i < count; ++i)
            values[i].reset();
    }
}

std::optional<std::string> json_string_member(std::string_view json,
                                              std::string_view name) noexcept {
    std::optional<std::string> value;
    json_string_members(json, &name, 1, &value);
    return value;
}

std::optional<Uuid> jwt_subject(std::string_view claims_json) noexcept {
    std::optional<std::string> sub = jwt_claim_sub(claims_json);
    if (!sub)
        return std::nullopt;
    return parse_uuid(*sub);
}

JwtIdentity jwt_identity(std::string_view claims_json, std::string_view issuer_claim) noexcept {
    // The issuer is a third member of the same pass, unless it names one of
    // the other two (a key is read once per pass).
    const bool issuer_is_sub = issuer_claim == "sub";
    const bool issuer_is_session = issuer_claim == "session_id";
    const bool scan_issuer = !issuer_claim.empty() && !issuer_is_sub && !issuer_is_session;
    const std::string_view names[] = {"sub", "session_id", issuer_claim};
    std::optional<std::string> values[3];
    json_string_members(claims_json, names, scan_issuer ? 3 : 2, values);
    JwtIdentity identity;
    if (values[0])
        identity.subject = parse_uuid(*values[0]);
    if (values[1])
        identity.session = parse_uuid(*values[1]);
    if (issuer_claim.empty() || !values[0] || identity.subject)
        return identity;
    try {
        if (scan_issuer)
            identity.issuer = std::move(values[2]);
        else
            identity.issuer = issuer_is_sub ? values[0] : values[1];
        identity.external_subject = std::move(values[0]);
    } catch (...) {
        // Only std::bad_alloc, copying a member: no external subject.
        identity.issuer.reset();
        identity.external_subject.reset();
    }
    return identity;
}

}  // namespace iam
