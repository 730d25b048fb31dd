// A count with its noun in the right number, for messages: "1 request",
// "2 requests". The plural is given, not derived: English has no rule.
#pragma once

#include <string>
#include <string_view>

namespace iam {

inline std::string counted(long long count, std::string_view singular, std::string_view plural) {
    std::string text = std::to_string(count);
    text += ' ';
    text += count == 1 || count == -1 ? singular : plural;
    return text;
}

}  // namespace iam
