// jwt_claim_sub must read PostgREST's claims exactly as
// (claims::jsonb ->> 'sub') does, or iam.current_user_id() and Supabase's
// auth.uid() could name different users for the same request. The jsonb
// behaviour asserted here was checked against PostgreSQL 15.
#include "catch.hpp"

#include "core/json_members.hpp"

#include <optional>
#include <string>

namespace {

std::string subject_uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

std::string postgrest_claims(const std::string& sub_json) {
    return R"({"sub":)" + sub_json +
           R"(,"role":"authenticated","aud":"authenticated","exp":1700000000,)"
           R"("email":"a@b.c","app_metadata":{"provider":"email"},"user_metadata":{}})";
}

std::string nested(const std::string& open, const std::string& inner, const std::string& close,
                   size_t times) {
    std::string text;
    for (size_t i = 0; i < times; ++i)
        text += open;
    text += inner;
    for (size_t i = 0; i < times; ++i)
        text += close;
    return text;
}

}  // namespace

TEST_CASE("the subject of typical PostgREST claims") {
    std::string claims = postgrest_claims('"' + subject_uuid + '"');
    CHECK(iam::jwt_claim_sub(claims) == subject_uuid);
    auto subject = iam::jwt_subject(claims);
    REQUIRE(subject);
    CHECK(iam::format_uuid(*subject) == subject_uuid);

    // The order of the keys does not matter.
    CHECK(iam::jwt_claim_sub(R"({"role":"authenticated","exp":1,"sub":"x"})") == "x");
}

TEST_CASE("jwt_subject accepts what ::uuid accepts, nothing else") {
    CHECK(iam::jwt_subject(R"({"sub":"{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}"})") ==
          iam::parse_uuid(subject_uuid));
    CHECK_FALSE(iam::jwt_subject(R"({"sub":" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})"));
    CHECK_FALSE(iam::jwt_subject(R"({"sub":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"})"));
    CHECK_FALSE(iam::jwt_subject(R"({"sub":"anonymous"})"));
    CHECK_FALSE(iam::jwt_subject(R"({"sub":""})"));
    CHECK_FALSE(iam::jwt_subject(R"({"role":"anon"})"));
    CHECK_FALSE(iam::jwt_subject(""));
    // A JSON escape that spells a UUID is the UUID: ->> unescapes first.
    CHECK(iam::jwt_subject(R"({"sub":"a0eebc99\u002d9c0b-4ef8-bb6d-6bb9bd380a11"})") ==
          iam::parse_uuid(subject_uuid));
}

TEST_CASE("only a top-level \"sub\" is the subject") {
    CHECK_FALSE(iam::jwt_claim_sub(R"({"role":"authenticated","exp":1700000000})"));
    CHECK_FALSE(iam::jwt_claim_sub("{}"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"app_metadata":{"provider":"email","sub":"x"}})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"a":[{"sub":"x"}],"b":{"c":{"sub":"y"}}})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"subject":"x","Sub":"y","su":"z","sub ":"w"," sub":"v"})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"x":"sub","y":"\"sub\":\"x\""})"));
    CHECK(iam::jwt_claim_sub(R"({"app_metadata":{"sub":"inner"},"sub":"outer"})") == "outer");
    CHECK(iam::jwt_claim_sub(R"({"sub":"outer","app_metadata":{"sub":"inner"}})") == "outer");
}

TEST_CASE("the top-level value must be an object") {
    for (const char* claims : {R"([{"sub":"x"}])", R"("sub")", "1", "null", "true", "[]"}) {
        CAPTURE(claims);
        CHECK_FALSE(iam::jwt_claim_sub(claims));
    }
}

TEST_CASE("of duplicate keys the last counts, as in jsonb") {
    CHECK(iam::jwt_claim_sub(R"({"sub":"first","sub":"second"})") == "second");
    CHECK(iam::jwt_claim_sub(R"({"sub":"a","role":"r","sub":"b","x":1,"sub":"c"})") == "c");
    CHECK(iam::jwt_claim_sub(R"({"sub":1,"sub":"text"})") == "text");
    CHECK(iam::jwt_claim_sub(R"({"sub":{"a":1},"sub":"text"})") == "text");
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"text","sub":1})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"text","sub":null})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"text","sub":["x"]})"));
    CHECK(iam::jwt_claim_sub(R"({"sub":"escaped","s\u0075b":"last"})") == "last");
}

TEST_CASE("keys compare after unescaping") {
    CHECK(iam::jwt_claim_sub(R"({"s\u0075b":"x"})") == "x");
    CHECK(iam::jwt_claim_sub(R"({"\u0073\u0075\u0062":"x"})") == "x");
    CHECK(iam::jwt_claim_sub(R"({"\u0053\u0055\u0042":"x","su\u0062":"y"})") == "y");
    CHECK(iam::jwt_claim_sub(R"({"su\/b":"x","sub":"y"})") == "y");
    CHECK_FALSE(iam::jwt_claim_sub(R"({"s\u0055b":"x"})"));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub\n":"x"})"));
}

TEST_CASE("a \"sub\" that is not a string gives no subject") {
    // ->> would give the number's or object's text, or NULL; none is a UUID.
    for (const char* value : {"1", "-1.5e3", "0", "null", "true", "false", "{}", R"({"sub":"x"})",
                              "[]", R"(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])"}) {
        CAPTURE(value);
        std::string claims = postgrest_claims(value);
        CHECK_FALSE(iam::jwt_claim_sub(claims));
        CHECK_FALSE(iam::jwt_subject(claims));
    }
}

TEST_CASE("string escapes are decoded as jsonb decodes them") {
    CHECK(iam::jwt_claim_sub(R"({"sub":"\"\\\/\b\f\n\r\t"})") == "\"\\/\b\f\n\r\t");
    CHECK(iam::jwt_claim_sub(R"({"sub":"\u0041\u00e9\u00E9\u20ac\uFFFF"})") ==
          "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
    CHECK(iam::jwt_claim_sub(R"({"sub":"\u0001\u001f\u007f"})") == "\x01\x1f\x7f");
    // Surrogate pairs, in either case: U+1F600 and U+10FFFF.
    CHECK(iam::jwt_claim_sub(R"({"sub":"\ud83d\ude00"})") == "\xf0\x9f\x98\x80");
    CHECK(iam::jwt_claim_sub(R"({"sub":"\uD83D\uDE00"})") == "\xf0\x9f\x98\x80");
    CHECK(iam::jwt_claim_sub(R"({"sub":"\udbff\udfff"})") == "\xf4\x8f\xbf\xbf");
    // Unescaped UTF-8 passes through; DEL needs no escape.
    CHECK(iam::jwt_claim_sub("{\"sub\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}") ==
          "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f");
    CHECK(iam::jwt_claim_sub(R"({"sub":""})") == "");
}

TEST_CASE("whitespace is allowed between tokens, and only JSON's four characters") {
    for (const char* claims :
         {" {\"sub\":\"x\"}", "{\"sub\":\"x\"} ", "{ \"sub\" : \"x\" }",
          "\t{\t\"sub\"\t:\t\"x\"\t}\t",
          "\r\n{\r\n\"sub\"\r\n:\r\n\"x\"\r\n,\r\n\"a\"\r\n:\r\n[\r\n1\r\n,\r\n2\r\n]\r\n}\r\n",
          "\n\n{\"a\" : { } , \"b\" : [ ] , \"sub\":\"x\" }\n\n"}) {
        CAPTURE(claims);
        CHECK(iam::jwt_claim_sub(claims) == "x");
    }
    CHECK(iam::jwt_claim_sub(R"({"sub":" x "})") == " x ");
}

TEST_CASE("malformed claims give no subject") {
    const std::string malformed[] = {
        // empty, or not one value
        "",
        " ",
        "\n\t\r ",
        "{",
        "}",
        R"({"sub":"x"})"
        R"({"sub":"x"})",
        // trailing garbage
        R"({"sub":"x"} x)",
        R"({"sub":"x"}})",
        R"({"sub":"x"},)",
        R"({"sub":"x"} // comment)",
        std::string("{\"sub\":\"x\"}\0", 12),
        // structure
        R"({"sub":"x",})",
        R"({,"sub":"x"})",
        R"({"sub":"x",,"a":1})",
        R"({"sub":"x" "a":1})",
        R"({"sub" "x"})",
        R"({"sub":})",
        R"({"sub"})",
        R"({"sub"::"x"})",
        R"({"sub":"x")",
        R"({"sub":"x","a":[1,2,]})",
        R"({"sub":"x","a":[,1]})",
        R"({"sub":"x","a":[1 2]})",
        R"({"sub":"x","a":[1})",
        R"({"sub":"x","a":{]})",
        R"({"sub":"x","a":{"b"}})",
        R"({"sub":"x","a":{1:2}})",
        R"({sub:"x"})",
        R"({'sub':'x'})",
        R"({"sub":'x'})",
        R"({"sub":"x"/*c*/})",
        // unterminated strings
        R"({"sub":"x})",
        R"({"sub":"x\"})",
        R"({"sub)",
        R"({"sub":")",
        // escapes
        R"({"sub":"\x"})",
        R"({"sub":"\a"})",
        R"({"sub":"\'"})",
        R"({"sub":"\U0041"})",
        R"({"sub":"\u41"})",
        R"({"sub":"\u004"})",
        R"({"sub":"\u004G"})",
        R"({"sub":"\u"})",
        R"({"sub":"\)",
        R"({"sub":"\ "})",
        // jsonb cannot hold U+0000
        R"({"sub":"\u0000"})",
        R"({"sub":"a\u0000b"})",
        R"({"s\u0000ub":"x","sub":"y"})",
        // lone or misordered surrogates
        R"({"sub":"\ud83d"})",
        R"({"sub":"\ud83dx"})",
        R"({"sub":"\ud83d\u0041"})",
        R"({"sub":"\ud83d\ud83d"})",
        R"({"sub":"\ud83d\n"})",
        R"({"sub":"\ud83d\"})",
        R"({"sub":"\ude00"})",
        R"({"sub":"\ude00\ud83d"})",
        R"({"x":"\udbff","sub":"y"})",
        // control characters must be escaped
        "{\"sub\":\"a\tb\"}",
        "{\"sub\":\"a\nb\"}",
        "{\"sub\":\"a\x1f"
        "b\"}",
        std::string("{\"sub\":\"a\0b\"}", 12),
        std::string("{\"sub\":\"x\",\0\"a\":1}", 18),
        // invalid UTF-8, inside strings and out
        "{\"sub\":\"\x80\"}",
        "{\"sub\":\"\xbf\"}",
        "{\"sub\":\"\xc0\x80\"}",          // overlong NUL
        "{\"sub\":\"\xc1\xbf\"}",          // overlong
        "{\"sub\":\"\xe0\x80\xaf\"}",      // overlong '/'
        "{\"sub\":\"\xe0\x9f\xbf\"}",      // overlong
        "{\"sub\":\"\xed\xa0\x80\"}",      // surrogate U+D800
        "{\"sub\":\"\xed\xbf\xbf\"}",      // surrogate U+DFFF
        "{\"sub\":\"\xf0\x8f\xbf\xbf\"}",  // overlong
        "{\"sub\":\"\xf4\x90\x80\x80\"}",  // U+110000
        "{\"sub\":\"\xf5\x80\x80\x80\"}",
        "{\"sub\":\"\xff\"}",
        "{\"sub\":\"\xc3\"}",  // truncated by the quote
        "{\"sub\":\"\xe2\x82\"}",
        "{\"sub\":\"\xf0\x9f\x98\"}",
        "{\"sub\":\"\xc3",             // truncated by the end
        "{\"sub\":\"\xc3\xa9\xa9\"}",  // stray continuation
        "{\"x\":\"\xc3\x28\",\"sub\":\"y\"}",
        "{\"\xc3\x28\":1,\"sub\":\"y\"}",
        "\xef\xbb\xbf{\"sub\":\"x\"}",  // a byte order mark is not whitespace
        "{\"sub\":\"x\"}\xc2\xa0",      // nor is U+00A0
        // whitespace JSON does not have
        "\f{\"sub\":\"x\"}",
        "{\"sub\":\"x\"}\v",
        // numbers
        R"({"sub":"x","a":01})",
        R"({"sub":"x","a":-01})",
        R"({"sub":"x","a":.5})",
        R"({"sub":"x","a":1.})",
        R"({"sub":"x","a":1.e5})",
        R"({"sub":"x","a":-})",
        R"({"sub":"x","a":+1})",
        R"({"sub":"x","a":1e})",
        R"({"sub":"x","a":1e+})",
        R"({"sub":"x","a":1E-})",
        R"({"sub":"x","a":1.5.3})",
        R"({"sub":"x","a":0x10})",
        R"({"sub":"x","a":1a})",
        R"({"sub":"x","a":NaN})",
        R"({"sub":"x","a":Infinity})",
        R"({"sub":"x","a":-Infinity})",
        R"({"sub":"x","a":--1})",
        // literals
        R"({"sub":"x","a":tru})",
        R"({"sub":"x","a":truex})",
        R"({"sub":"x","a":True})",
        R"({"sub":"x","a":nul})",
        R"({"sub":"x","a":nulll})",
        R"({"sub":"x","a":f})",
        R"({"sub":"x","a":undefined})",
    };
    for (const std::string& claims : malformed) {
        CAPTURE(claims);
        CHECK_FALSE(iam::jwt_claim_sub(claims));
    }
}

TEST_CASE("valid numbers and literals elsewhere do not hide the subject") {
    for (const char* value : {"0", "-0", "-0.0", "1", "-1", "10", "123.456", "1e5", "1E5", "1e+5",
                              "1e-5", "-1.5E-3", "0.0000001", "1e0", "1e00000000000000000000001",
                              "true", "false", "null", "[true,false,null,[],{}]"}) {
        CAPTURE(value);
        CHECK(iam::jwt_claim_sub(std::string(R"({"a":)") + value + R"(,"sub":"x"})") == "x");
    }
}

TEST_CASE("numbers outside numeric's range make the claims malformed, as in jsonb") {
    // Each boundary as PostgreSQL 15 draws it; "value overflows numeric
    // format" on the rejected side.
    const char* fits[] = {"1e131071",   "9.9e131071",  "0.1e131072",   "1e-16383",
                          "1.5e-16382", "0e-16383",    "0e1073741822", "-0e1073741822",
                          "0.0e16383",  "1000e131068", "-1e131071",    "0.00001e131076"};
    const char* overflows[] = {"1e131072",
                               "10e131071",
                               "1e-16384",
                               "1.5e-16383",
                               "0e-16384",
                               "0e1073741823",
                               "0e-1073741823",
                               "0e99999999999999999999999",
                               "1e-99999999999999999999999",
                               "-1e131072"};
    for (const char* value : fits) {
        CAPTURE(value);
        CHECK(iam::jwt_claim_sub(std::string(R"({"sub":"x","a":)") + value + "}") == "x");
    }
    for (const char* value : overflows) {
        CAPTURE(value);
        CHECK_FALSE(iam::jwt_claim_sub(std::string(R"({"sub":"x","a":)") + value + "}"));
    }
    // Digits count as much as the exponent: 131072 digits before the point
    // are one too many, 16384 after it too.
    CHECK(iam::jwt_claim_sub(R"({"sub":"x","a":)" + std::string(131072, '9') + "}") == "x");
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"x","a":1)" + std::string(131072, '0') + "}"));
    CHECK(iam::jwt_claim_sub(R"({"sub":"x","a":0.)" + std::string(16383, '0') + "}") == "x");
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"x","a":0.)" + std::string(16384, '0') + "}"));
}

TEST_CASE("nesting is limited, and deep input cannot exhaust the stack") {
    // max_claims_depth containers, the top-level object included, are fine.
    std::string deepest =
        R"({"sub":"x","a":)" + nested("[", "1", "]", iam::max_claims_depth - 1) + "}";
    CHECK(iam::jwt_claim_sub(deepest) == "x");
    std::string objects =
        R"({"sub":"x","a":)" + nested(R"({"a":)", "1", "}", iam::max_claims_depth - 1) + "}";
    CHECK(iam::jwt_claim_sub(objects) == "x");

    std::string too_deep =
        R"({"sub":"x","a":)" + nested("[", "1", "]", iam::max_claims_depth) + "}";
    CHECK_FALSE(iam::jwt_claim_sub(too_deep));
    CHECK_FALSE(iam::jwt_claim_sub(R"({"sub":"x","a":)" + nested("[", "", "]", 1000000) + "}"));
    CHECK_FALSE(iam::jwt_claim_sub(std::string(1000000, '{')));
    CHECK_FALSE(iam::jwt_claim_sub("{\"a\":" + std::string(1000000, '[')));
}

TEST_CASE("megabyte values are read whole") {
    std::string big(1 << 20, 'a');
    CHECK(iam::jwt_claim_sub(R"({"sub":")" + big + R"("})") == big);
    CHECK(iam::jwt_claim_sub(R"({"a":")" + big + R"(","sub":"x","b":")" + big + R"("})") == "x");

    std::string escaped;
    for (size_t i = 0; i < (1 << 18); ++i)
        escaped += "\\u00e9";
    auto sub = iam::jwt_claim_sub(R"({"sub":")" + escaped + R"("})");
    REQUIRE(sub);
    CHECK(sub->size() == 2 * (1 << 18));
    CHECK(sub->substr(0, 4) == "\xc3\xa9\xc3\xa9");

    // Many keys, many duplicates: still the last one.
    std::string many = "{";
    for (int i = 0; i < 100000; ++i)
        many += R"("sub":")" + std::to_string(i) + R"(",)";
    many += R"("end":true})";
    CHECK(iam::jwt_claim_sub(many) == "99999");
}

// Hidden (it takes seconds and 256MB under the sanitizers); run it with
// unit_tests "[slow]".
TEST_CASE("a string longer than jsonb can hold makes the claims malformed", "[.][slow]") {
    // The limit counts decoded bytes. Built in place: the input is 256MB.
    std::string claims = R"({"sub":"x","a":")";
    claims.reserve(claims.size() + iam::max_claims_string_bytes + 3);
    claims.append(iam::max_claims_string_bytes + 1, 'a');
    claims += "\"}";
    CHECK_FALSE(iam::jwt_claim_sub(claims));
}

// The revocation check and iam.current_user_id() share one pass over the
// claims for "sub" and "session_id"; it must answer as a pass per member.
TEST_CASE("two members read in one pass answer as one pass each") {
    std::string session_uuid = "5e550000-0000-4000-8000-000000000007";
    const std::string documents[] = {
        R"({"sub":")" + subject_uuid + R"(","session_id":")" + session_uuid + R"("})",
        R"({"session_id":")" + session_uuid + R"(","role":"authenticated","sub":")" + subject_uuid +
            R"("})",
        R"({"sub":")" + subject_uuid + R"("})",
        R"({"session_id":")" + session_uuid + R"("})",
        R"({"sub":"a","session_id":"b","sub":"c","session_id":{"x":1}})",
        R"({"s\u0075b":"x","session\u005fid":"y"})",
        R"({"nested":{"sub":"n","session_id":"m"},"session_id":"top"})",
        R"({"sub":1,"session_id":null})",
        R"({"sub":"x","session_id":"y")",
        R"({"sub":"x","session_id":"y"} trailing)",
        R"(["sub","session_id"])",
        R"({"session":"partial","sub_":"longer","su":"shorter"})",
        "",
    };
    const std::string_view names[] = {"sub", "session_id"};
    for (const std::string& document : documents) {
        INFO(document);
        std::optional<std::string> values[2];
        iam::json_string_members(document, names, 2, values);
        CHECK(values[0] == iam::json_string_member(document, "sub"));
        CHECK(values[1] == iam::json_string_member(document, "session_id"));
        iam::JwtIdentity identity = iam::jwt_identity(document);
        CHECK(identity.subject == iam::jwt_subject(document));
        auto session = iam::json_string_member(document, "session_id");
        CHECK(identity.session == (session ? iam::parse_uuid(*session) : std::nullopt));
    }
    iam::JwtIdentity both = iam::jwt_identity(documents[1]);
    CHECK(both.subject == iam::parse_uuid(subject_uuid));
    CHECK(both.session == iam::parse_uuid(session_uuid));

    // More members than one pass reads: none is read.
    const std::string_view four[] = {"sub", "session_id", "role", "iss"};
    std::optional<std::string> values[4] = {std::string("stale"), std::string("stale"),
                                            std::string("stale"), std::string("stale")};
    iam::json_string_members(documents[1], four, 4, values);
    CHECK_FALSE(values[0]);
    CHECK_FALSE(values[1]);
    CHECK_FALSE(values[2]);
    CHECK_FALSE(values[3]);
}

TEST_CASE("jwt_identity reads another identity provider's subject and issuer in the same pass") {
    // Claims as Auth0 and Clerk document their tokens.
    const std::string auth0 =
        R"({"iss":"https://example.auth0.com/","sub":"auth0|64f1c0ffee","aud":["https://api.example.com"],)"
        R"("iat":1700000000,"exp":1700086400,"scope":"openid profile"})";
    const std::string clerk =
        R"({"azp":"https://example.com","exp":1700000060,"iat":1700000000,)"
        R"("iss":"https://clean-mayfly-62.clerk.accounts.dev","nbf":1699999990,)"
        R"("sid":"sess_2abc","sub":"user_2NNEqL2nrIRdJ194ndJqAHwEfxC"})";
    iam::JwtIdentity a = iam::jwt_identity(auth0, "iss");
    CHECK_FALSE(a.subject);
    CHECK(a.external_subject == std::optional<std::string>("auth0|64f1c0ffee"));
    CHECK(a.issuer == std::optional<std::string>("https://example.auth0.com/"));
    iam::JwtIdentity c = iam::jwt_identity(clerk, "iss");
    CHECK(c.external_subject == std::optional<std::string>("user_2NNEqL2nrIRdJ194ndJqAHwEfxC"));
    CHECK(c.issuer == std::optional<std::string>("https://clean-mayfly-62.clerk.accounts.dev"));
    // Another claim names the provider.
    CHECK(iam::jwt_identity(clerk, "azp").issuer ==
          std::optional<std::string>("https://example.com"));
    // Without an issuer claim asked for, nothing beyond the UUIDs.
    iam::JwtIdentity none = iam::jwt_identity(clerk);
    CHECK_FALSE(none.external_subject);
    CHECK_FALSE(none.issuer);
    // A UUID subject is the user itself, never an external one.
    const std::string supabase =
        R"({"iss":"https://x.supabase.co/auth/v1","sub":"a0000000-0000-4000-8000-0000000000a1"})";
    iam::JwtIdentity s = iam::jwt_identity(supabase, "iss");
    CHECK(s.subject);
    CHECK_FALSE(s.external_subject);
    CHECK_FALSE(s.issuer);
    // No issuer claim: a subject without an issuer.
    iam::JwtIdentity no_issuer = iam::jwt_identity(R"({"sub":"auth0|1"})", "iss");
    CHECK(no_issuer.external_subject == std::optional<std::string>("auth0|1"));
    CHECK_FALSE(no_issuer.issuer);
    // A non-string issuer is no issuer; claims jsonb refuses are nobody.
    CHECK_FALSE(iam::jwt_identity(R"({"sub":"auth0|1","iss":7})", "iss").issuer);
    CHECK_FALSE(iam::jwt_identity(R"({"sub":"auth0|1","iss":"x")", "iss").external_subject);
    // The issuer claim may be one of the two members read anyway.
    CHECK(iam::jwt_identity(R"({"sub":"auth0|1"})", "sub").issuer ==
          std::optional<std::string>("auth0|1"));
}
