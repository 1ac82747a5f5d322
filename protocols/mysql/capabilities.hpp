#pragma once
// Capability flags, server status flags and the proxy's capability negotiation.
// Names as in MySQL's docs (group__group__cs__capabilities__flags.html,
// mysql_com.h SERVER_STATUS_*); MariaDB's extended capabilities live in the upper
// 32 bits of the 64-bit Capabilities value (MariaDB "Connection" docs: they are sent in
// the last 4 reserved bytes of the greeting / handshake response when CLIENT_MYSQL,
// i.e. CLIENT_LONG_PASSWORD, is NOT set).
#include <cstdint>

namespace segproxy::protocols::mysql {

using Capabilities = std::uint64_t;

// ---- Standard capability flags (lower 32 bits) ----
inline constexpr Capabilities CLIENT_LONG_PASSWORD = 1u << 0;  // MariaDB: CLIENT_MYSQL
inline constexpr Capabilities CLIENT_FOUND_ROWS = 1u << 1;
inline constexpr Capabilities CLIENT_LONG_FLAG = 1u << 2;
inline constexpr Capabilities CLIENT_CONNECT_WITH_DB = 1u << 3;
inline constexpr Capabilities CLIENT_NO_SCHEMA = 1u << 4;
inline constexpr Capabilities CLIENT_COMPRESS = 1u << 5;
inline constexpr Capabilities CLIENT_ODBC = 1u << 6;
inline constexpr Capabilities CLIENT_LOCAL_FILES = 1u << 7;
inline constexpr Capabilities CLIENT_IGNORE_SPACE = 1u << 8;
inline constexpr Capabilities CLIENT_PROTOCOL_41 = 1u << 9;
inline constexpr Capabilities CLIENT_INTERACTIVE = 1u << 10;
inline constexpr Capabilities CLIENT_SSL = 1u << 11;
inline constexpr Capabilities CLIENT_IGNORE_SIGPIPE = 1u << 12;
inline constexpr Capabilities CLIENT_TRANSACTIONS = 1u << 13;
inline constexpr Capabilities CLIENT_RESERVED = 1u << 14;
inline constexpr Capabilities CLIENT_SECURE_CONNECTION = 1u << 15;  // "CLIENT_RESERVED2"
inline constexpr Capabilities CLIENT_MULTI_STATEMENTS = 1u << 16;
inline constexpr Capabilities CLIENT_MULTI_RESULTS = 1u << 17;
inline constexpr Capabilities CLIENT_PS_MULTI_RESULTS = 1u << 18;
inline constexpr Capabilities CLIENT_PLUGIN_AUTH = 1u << 19;
inline constexpr Capabilities CLIENT_CONNECT_ATTRS = 1u << 20;
inline constexpr Capabilities CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1u << 21;
inline constexpr Capabilities CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1u << 22;
inline constexpr Capabilities CLIENT_SESSION_TRACK = 1u << 23;
inline constexpr Capabilities CLIENT_DEPRECATE_EOF = 1u << 24;
inline constexpr Capabilities CLIENT_OPTIONAL_RESULTSET_METADATA = 1u << 25;
inline constexpr Capabilities CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1u << 26;
inline constexpr Capabilities CLIENT_QUERY_ATTRIBUTES = 1u << 27;
inline constexpr Capabilities MULTI_FACTOR_AUTHENTICATION = 1u << 28;
inline constexpr Capabilities CLIENT_CAPABILITY_EXTENSION = 1u << 29;
inline constexpr Capabilities CLIENT_SSL_VERIFY_SERVER_CERT = 1u << 30;
inline constexpr Capabilities CLIENT_REMEMBER_OPTIONS = 1u << 31;

// ---- MariaDB extended capabilities (upper 32 bits) ----
inline constexpr Capabilities MARIADB_CLIENT_PROGRESS = 1ull << 32;
inline constexpr Capabilities MARIADB_CLIENT_COM_MULTI = 1ull << 33;
inline constexpr Capabilities MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1ull << 34;
inline constexpr Capabilities MARIADB_CLIENT_EXTENDED_TYPE_INFO = 1ull << 35;
inline constexpr Capabilities MARIADB_CLIENT_CACHE_METADATA = 1ull << 36;
inline constexpr Capabilities MARIADB_CLIENT_BULK_UNIT_RESULTS = 1ull << 37;

// ---- Server status flags (OK / EOF packets, greeting) ----
using StatusFlags = std::uint16_t;
inline constexpr StatusFlags SERVER_STATUS_IN_TRANS = 1u << 0;
inline constexpr StatusFlags SERVER_STATUS_AUTOCOMMIT = 1u << 1;
inline constexpr StatusFlags SERVER_MORE_RESULTS_EXISTS = 1u << 3;
inline constexpr StatusFlags SERVER_QUERY_NO_GOOD_INDEX_USED = 1u << 4;
inline constexpr StatusFlags SERVER_QUERY_NO_INDEX_USED = 1u << 5;
inline constexpr StatusFlags SERVER_STATUS_CURSOR_EXISTS = 1u << 6;
inline constexpr StatusFlags SERVER_STATUS_LAST_ROW_SENT = 1u << 7;
inline constexpr StatusFlags SERVER_STATUS_DB_DROPPED = 1u << 8;
inline constexpr StatusFlags SERVER_STATUS_NO_BACKSLASH_ESCAPES = 1u << 9;
inline constexpr StatusFlags SERVER_STATUS_METADATA_CHANGED = 1u << 10;
inline constexpr StatusFlags SERVER_QUERY_WAS_SLOW = 1u << 11;
inline constexpr StatusFlags SERVER_PS_OUT_PARAMS = 1u << 12;
inline constexpr StatusFlags SERVER_STATUS_IN_TRANS_READONLY = 1u << 13;
inline constexpr StatusFlags SERVER_SESSION_STATE_CHANGED = 1u << 14;

// Everything the proxy implements when it terminates the client side. The session's
// greeting advertises proxy_client_capabilities(backend greeting caps), never more:
//  - never CLIENT_LOCAL_FILES (LOAD DATA LOCAL is refused), CLIENT_COMPRESS,
//    CLIENT_ZSTD_COMPRESSION_ALGORITHM (compression off), CLIENT_QUERY_ATTRIBUTES
//    (COM_QUERY would carry typed parameters the classifier does not see; the decoder
//    can parse them, but the proxy does not advertise it), CLIENT_OPTIONAL_RESULTSET_METADATA
//    (changes the result-set layout the response tracker follows),
//    MULTI_FACTOR_AUTHENTICATION, CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS, CLIENT_IGNORE_SPACE
//    (changes how the server lexes function names; the SQL analyzer assumes it is off),
//    and no MariaDB extended capability (CLIENT_MYSQL is set, so none is exchanged).
//  - CLIENT_FOUND_ROWS, CLIENT_INTERACTIVE, CLIENT_LONG_FLAG and CLIENT_TRANSACTIONS only
//    change server-side semantics/format details the proxy relays unchanged.
inline constexpr Capabilities kProxyImplemented =
    CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
    CLIENT_INTERACTIVE | CLIENT_SSL | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |
    CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS |
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF;

// Flags that change the bytes of command responses. The proxy relays backend responses
// unchanged, so the backend login must use exactly the client's choice of these
// (format_capabilities(client) == format_capabilities(backend login)).
inline constexpr Capabilities kResponseFormatFlags = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |
                                                     CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF |
                                                     CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |
                                                     CLIENT_LONG_FLAG | CLIENT_OPTIONAL_RESULTSET_METADATA |
                                                     CLIENT_QUERY_ATTRIBUTES;

// Client-chosen flags that only change server-side semantics; passed to the backend as
// the client chose them (when the backend offers them).
inline constexpr Capabilities kClientSemanticFlags =
    CLIENT_FOUND_ROWS | CLIENT_INTERACTIVE | CLIENT_MULTI_STATEMENTS;

// Never negotiated, in either direction.
inline constexpr Capabilities kNeverNegotiated = CLIENT_LOCAL_FILES | CLIENT_COMPRESS |
                                                 CLIENT_ZSTD_COMPRESSION_ALGORITHM |
                                                 CLIENT_QUERY_ATTRIBUTES | CLIENT_OPTIONAL_RESULTSET_METADATA |
                                                 MULTI_FACTOR_AUTHENTICATION | CLIENT_IGNORE_SPACE |
                                                 CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | ~Capabilities{0xFFFFFFFFu};

// What the proxy's own greeting advertises, given the backend's greeting capabilities
// (read before greeting the client): kProxyImplemented, limited to what the backend
// also offers for the response-format and semantic flags (so the client never picks a
// format the backend cannot produce), plus CLIENT_SSL, CLIENT_PLUGIN_AUTH,
// CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, CLIENT_CONNECT_ATTRS,
// CLIENT_CONNECT_WITH_DB and CLIENT_LONG_PASSWORD, which the proxy handles itself.
Capabilities proxy_client_capabilities(Capabilities backend_server_caps);

// What the proxy sends to the backend in its HandshakeResponse41, given the backend's
// greeting and what the client chose (its HandshakeResponse41 flags, already limited to
// the proxy's greeting): response-format and semantic flags exactly as the client chose
// them (intersected with the backend's), the login mechanics the proxy itself uses
// (PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, PLUGIN_AUTH_LENENC_CLIENT_DATA and
// CONNECT_ATTRS when the backend offers them, CONNECT_WITH_DB when `with_database`,
// CLIENT_SSL when `backend_tls`), never kNeverNegotiated.
Capabilities backend_login_capabilities(Capabilities backend_server_caps, Capabilities client_caps,
                                        bool backend_tls, bool with_database);

inline constexpr Capabilities format_capabilities(Capabilities caps) { return caps & kResponseFormatFlags; }

inline constexpr bool has(Capabilities caps, Capabilities flag) { return (caps & flag) == flag; }

}  // namespace segproxy::protocols::mysql
