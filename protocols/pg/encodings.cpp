// PostgreSQL encoding names -> how the classifier follows them (encodings.hpp).
//
// The iconv names are chosen so that every ASCII byte converts to itself, as in
// PostgreSQL's own conversions (a quote, backslash or dollar the server sees must be
// the one the classifier sees); tests/unit/sql/pg_transcode_test.cpp checks that for
// every entry. glibc's SJIS / SHIFT_JISX0213 / JOHAB converters map 0x5C (and 0x7E) to
// YEN / WON / OVERLINE signs, so SJIS is read with CP932 (PostgreSQL's SJIS includes the
// NEC/IBM extensions CP932 has) and SHIFT_JIS_2004 / JOHAB stay refused.
#include "protocols/pg/encodings.hpp"

#include <array>
#include <cctype>
#include <string>

namespace segproxy::protocols::pg {
namespace {

using S = EncodingSupport;

constexpr std::string_view kNoAsciiFaithfulConverter =
    "the only converter available (glibc iconv) reads 0x5C and 0x7E as other characters than PostgreSQL does";

constexpr std::array<PgEncoding, 42> kEncodings = {{
    {"SQL_ASCII", S::SqlAscii, "", ""},
    {"UTF8", S::Utf8, "", ""},
    {"EUC_JP", S::Iconv, "EUC-JP", ""},
    {"EUC_CN", S::Iconv, "EUC-CN", ""},
    {"EUC_KR", S::Iconv, "EUC-KR", ""},
    {"EUC_TW", S::Iconv, "EUC-TW", ""},
    {"EUC_JIS_2004", S::Iconv, "EUC-JISX0213", ""},
    {"MULE_INTERNAL", S::Refused, "",
     "MULE_INTERNAL has no converter outside PostgreSQL (Emacs's internal multi-byte encoding)"},
    {"LATIN1", S::Iconv, "ISO-8859-1", ""},
    {"LATIN2", S::Iconv, "ISO-8859-2", ""},
    {"LATIN3", S::Iconv, "ISO-8859-3", ""},
    {"LATIN4", S::Iconv, "ISO-8859-4", ""},
    {"LATIN5", S::Iconv, "ISO-8859-9", ""},
    {"LATIN6", S::Iconv, "ISO-8859-10", ""},
    {"LATIN7", S::Iconv, "ISO-8859-13", ""},
    {"LATIN8", S::Iconv, "ISO-8859-14", ""},
    {"LATIN9", S::Iconv, "ISO-8859-15", ""},
    {"LATIN10", S::Iconv, "ISO-8859-16", ""},
    {"WIN1256", S::Iconv, "CP1256", ""},
    {"WIN1258", S::Iconv, "CP1258", ""},
    {"WIN866", S::Iconv, "CP866", ""},
    {"WIN874", S::Iconv, "CP874", ""},
    {"KOI8R", S::Iconv, "KOI8-R", ""},
    {"WIN1251", S::Iconv, "CP1251", ""},
    {"WIN1252", S::Iconv, "CP1252", ""},
    {"ISO_8859_5", S::Iconv, "ISO-8859-5", ""},
    {"ISO_8859_6", S::Iconv, "ISO-8859-6", ""},
    {"ISO_8859_7", S::Iconv, "ISO-8859-7", ""},
    {"ISO_8859_8", S::Iconv, "ISO-8859-8", ""},
    {"WIN1250", S::Iconv, "CP1250", ""},
    {"WIN1253", S::Iconv, "CP1253", ""},
    {"WIN1254", S::Iconv, "CP1254", ""},
    {"WIN1255", S::Iconv, "CP1255", ""},
    {"WIN1257", S::Iconv, "CP1257", ""},
    {"KOI8U", S::Iconv, "KOI8-U", ""},
    // Client-only encodings: a multibyte character's trail byte may be an ASCII byte
    // (0x5C in SJIS 0x95 0x5C), which is why the text must be converted, not scanned.
    {"SJIS", S::Iconv, "CP932", ""},
    {"BIG5", S::Iconv, "BIG5", ""},
    {"GBK", S::Iconv, "GBK", ""},
    {"UHC", S::Iconv, "CP949", ""},
    {"GB18030", S::Iconv, "GB18030", ""},
    {"JOHAB", S::Refused, "", kNoAsciiFaithfulConverter},
    {"SHIFT_JIS_2004", S::Refused, "", kNoAsciiFaithfulConverter},
}};

// encnames.c pg_encname_tbl: cleaned alias -> canonical name.
struct Alias {
  std::string_view alias;
  std::string_view name;
};
constexpr std::array<Alias, 73> kAliases = {{
    {"abc", "WIN1258"},         {"alt", "WIN866"},          {"big5", "BIG5"},
    {"euccn", "EUC_CN"},        {"eucjis2004", "EUC_JIS_2004"}, {"eucjp", "EUC_JP"},
    {"euckr", "EUC_KR"},        {"euctw", "EUC_TW"},        {"gb18030", "GB18030"},
    {"gbk", "GBK"},             {"iso88591", "LATIN1"},     {"iso885910", "LATIN6"},
    {"iso885913", "LATIN7"},    {"iso885914", "LATIN8"},    {"iso885915", "LATIN9"},
    {"iso885916", "LATIN10"},   {"iso88592", "LATIN2"},     {"iso88593", "LATIN3"},
    {"iso88594", "LATIN4"},     {"iso88595", "ISO_8859_5"}, {"iso88596", "ISO_8859_6"},
    {"iso88597", "ISO_8859_7"}, {"iso88598", "ISO_8859_8"}, {"iso88599", "LATIN5"},
    {"johab", "JOHAB"},         {"koi8", "KOI8R"},          {"koi8r", "KOI8R"},
    {"koi8u", "KOI8U"},         {"latin1", "LATIN1"},       {"latin10", "LATIN10"},
    {"latin2", "LATIN2"},       {"latin3", "LATIN3"},       {"latin4", "LATIN4"},
    {"latin5", "LATIN5"},       {"latin6", "LATIN6"},       {"latin7", "LATIN7"},
    {"latin8", "LATIN8"},       {"latin9", "LATIN9"},       {"mskanji", "SJIS"},
    {"muleinternal", "MULE_INTERNAL"}, {"shiftjis", "SJIS"}, {"shiftjis2004", "SHIFT_JIS_2004"},
    {"sjis", "SJIS"},           {"sqlascii", "SQL_ASCII"},  {"tcvn", "WIN1258"},
    {"tcvn5712", "WIN1258"},    {"uhc", "UHC"},             {"unicode", "UTF8"},
    {"utf8", "UTF8"},           {"vscii", "WIN1258"},       {"win", "WIN1251"},
    {"win1250", "WIN1250"},     {"win1251", "WIN1251"},     {"win1252", "WIN1252"},
    {"win1253", "WIN1253"},     {"win1254", "WIN1254"},     {"win1255", "WIN1255"},
    {"win1256", "WIN1256"},     {"win1257", "WIN1257"},     {"win1258", "WIN1258"},
    {"win866", "WIN866"},       {"win874", "WIN874"},       {"win932", "SJIS"},
    {"win936", "GBK"},          {"win949", "UHC"},          {"win950", "BIG5"},
    {"windows1250", "WIN1250"}, {"windows1251", "WIN1251"}, {"windows1252", "WIN1252"},
    {"windows1253", "WIN1253"}, {"windows1254", "WIN1254"}, {"windows1255", "WIN1255"},
    {"windows1256", "WIN1256"},
}};
// (windows1257/1258, windows866/874/932/936/949/950 are listed by encnames.c as well.)
constexpr std::array<Alias, 8> kMoreAliases = {{
    {"windows1257", "WIN1257"}, {"windows1258", "WIN1258"}, {"windows866", "WIN866"},
    {"windows874", "WIN874"},   {"windows932", "SJIS"},     {"windows936", "GBK"},
    {"windows949", "UHC"},      {"windows950", "BIG5"},
}};

constexpr std::size_t kMaxEncodingName = 64;

// encnames.c clean_encoding_name: lower-case, keep only letters and digits.
std::string clean(std::string_view name) {
  std::string out;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

}  // namespace

std::optional<PgEncoding> find_pg_encoding(std::string_view name) {
  if (name.empty() || name.size() > kMaxEncodingName) return std::nullopt;
  const std::string key = clean(name);
  std::string_view canonical;
  for (const auto& a : kAliases)
    if (a.alias == key) canonical = a.name;
  for (const auto& a : kMoreAliases)
    if (a.alias == key) canonical = a.name;
  if (canonical.empty()) return std::nullopt;
  for (const auto& e : kEncodings)
    if (e.name == canonical) return e;
  return std::nullopt;
}

std::span<const PgEncoding> all_pg_encodings() { return kEncodings; }

}  // namespace segproxy::protocols::pg
